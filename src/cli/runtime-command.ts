/** `intstream runtime`: the control plane (HTTP API, embedded storage). */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { IntstreamError } from '../errors.ts';
import { parseDuration } from './format.ts';
import { serveUntilSignal } from './control-options.ts';

function pem(file: string, flag: string): Buffer {
  try { return readFileSync(file); } catch (e) {
    throw new IntstreamError('USAGE', `${flag} ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export function runtimeCommand(): Command {
  return new Command('runtime')
    .description('the control plane: agents, tasks, results over an HTTP API (OpenAPI at /api/v1/openapi.json)')
    .requiredOption('--kafka <host:port>', 'Kafka broker')
    .option('--port <port>', 'HTTP port', '7070')
    .option('--host <addr>', 'address to bind (loopback by default)', '127.0.0.1')
    .option('--tokens <file>', 'credentials, one "role name token" per line; roles: read, operator, agent, worker (re-read when it changes)')
    .option('--token <token>', 'without --tokens: one operator token (read, submit, stop; not for agents or workers) (default $INTSTREAM_TOKEN)')
    .option('--public-read', 'let GET calls (and the web UI read-only) go without a token')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain)')
    .option('--tls-key <file>', 'PEM key of --tls-cert')
    .option('--tls-ca <file>', 'mutual TLS: require client certificates signed by this PEM CA')
    .option('--max-streams <n>', 'open event streams at most (32 per credential)', '256')
    .option('--stream-stall <duration>', 'close an event stream whose client takes nothing this long while results wait (counted)', '30s')
    .option('--db <file>', 'embedded storage (sqlite file)', 'intstream-runtime.db')
    .option('--grace <duration>', 'default grace time after which a silent agent no longer holds windows open', '30s')
    .option('--down-after <duration>', 'an agent without heartbeat this long is shown down', '3s')
    .option('--forget-after <duration>', 'a GSP worker without heartbeat this long is no longer listed (default: 20 x --down-after, at least 60s)')
    .option('--retention <duration>', 'forget stored results older than this (default: keep them)')
    .addHelpText('after', `
Tokens file (chmod 600), one credential per line; a token may be given as sha256:HEX of it:
  operator  alice   <token>        read, submit and stop tasks; the web UI
  read      grafana <token>        read only
  agent     edge1   <token>        the agent named edge1: register and heartbeat as edge1 only
  worker    gsp1    <token>        the GSP worker named gsp1: heartbeat as gsp1 only

Examples:
  $ intstream runtime --kafka 127.0.0.1:9092 --tokens /etc/intstream/tokens
  $ intstream runtime --kafka 10.0.0.5:9092 --host 0.0.0.0 --tokens tokens --tls-cert rt.pem --tls-key rt.key`)
    .action(async (o: Record<string, any>) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new IntstreamError('USAGE', `--port ${o.port}: not a port`);
      const maxStreams = Number(o.maxStreams);
      if (!Number.isInteger(maxStreams) || maxStreams < 1) throw new IntstreamError('USAGE', `--max-streams ${o.maxStreams}: not a positive integer`);
      if (!process.getBuiltinModule?.('node:sqlite')) {
        throw new IntstreamError('UNSUPPORTED', `the runtime keeps its state with node:sqlite, which this Node (${process.version}) lacks: run the runtime on Node >= 22.13 (agents, GSP workers and run work on Node 20)`);
      }
      if (o.forgetAfter !== undefined && !(parseDuration(o.forgetAfter) > 0)) throw new IntstreamError('USAGE', `--forget-after ${o.forgetAfter}: not a duration`);
      if (!(parseDuration(o.streamStall) > 0)) throw new IntstreamError('USAGE', `--stream-stall ${o.streamStall}: not a duration`);
      if (o.tokens && o.token) throw new IntstreamError('USAGE', '--tokens and --token: give one (put the operator token in the file)');
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new IntstreamError('USAGE', '--tls-cert and --tls-key go together');
      if (o.tlsCa && !o.tlsCert) throw new IntstreamError('USAGE', '--tls-ca needs --tls-cert and --tls-key');
      const log = (l: string) => process.stderr.write(`intstream runtime: ${l}\n`);
      const { Credentials } = await import('../control/credentials.ts');
      let credentials;
      if (o.tokens) credentials = Credentials.fromFile(o.tokens, log);
      else {
        // with a tokens file INTSTREAM_TOKEN is not read: an environment shared with agents must not add an operator
        const t = o.token ?? process.env.INTSTREAM_TOKEN;
        if (!t) throw new IntstreamError('USAGE', 'no credentials: pass --tokens FILE (or --token T / INTSTREAM_TOKEN for one operator token)');
        credentials = Credentials.operatorToken(t);
        log('one operator token (--token/INTSTREAM_TOKEN): agents and GSP workers need their own credentials in a --tokens file');
      }
      const tls = o.tlsCert ? { cert: pem(o.tlsCert, '--tls-cert'), key: pem(o.tlsKey, '--tls-key'), ...(o.tlsCa ? { ca: pem(o.tlsCa, '--tls-ca') } : {}) } : undefined;
      const { RuntimeServer } = await import('../control/runtime-server.ts'); // fastify: loaded on use
      const server = new RuntimeServer({
        port, host: o.host, kafka: o.kafka, credentials, publicRead: o.publicRead === true, tls, maxStreams, db: o.db, log,
        graceMs: parseDuration(o.grace) * 1000, downAfterMs: parseDuration(o.downAfter) * 1000,
        ...(o.retention !== undefined ? { retentionMs: parseDuration(o.retention) * 1000 } : {}),
        ...(o.forgetAfter !== undefined ? { forgetAfterMs: parseDuration(o.forgetAfter) * 1000 } : {}),
        streamStallMs: parseDuration(o.streamStall) * 1000,
      });
      const url = await server.start();
      process.stderr.write(`intstream runtime: listening on ${url}\n`);
      await serveUntilSignal('runtime', () => server.close());
    });
}
