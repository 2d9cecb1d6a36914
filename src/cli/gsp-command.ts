/** `intstream gsp`: a GSP worker, one member of each task's Kafka consumer group. */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { Command } from 'commander';
import { IntstreamError } from '../errors.ts';
import { clientTls, runtimeUrl, token, serveUntilSignal, withClientTls } from './control-options.ts';

export function gspCommand(): Command {
  return withClientTls(new Command('gsp')
    .description("run the tasks' global stages as a Kafka consumer group member (start more to scale out)")
    .requiredOption('--kafka <host:port>', 'Kafka broker')
    .option('--name <name>', "worker name (default: its credential's name, else host name and pid)")
    .option('--runtime <url>', 'the runtime to take tasks from (default $INTSTREAM_RUNTIME or http://127.0.0.1:7070)')
    .option('--token <token>', "this worker's token (a worker credential of the runtime's --tokens file) (default $INTSTREAM_TOKEN)"))
    .option('--allow-code', 'also run the global stages of submitted query files (default: built-in applications only)')
    .option('--sink-dir <dir>', "let tasks' file sinks (jsonl:FILE, table:FILE) write inside this folder (default: file sinks refused)")
    .addHelpText('after', `
Examples:
  $ intstream gsp --kafka 127.0.0.1:9092 --runtime https://127.0.0.1:7070 --ca ca.pem --token "$TOKEN"`)
    .action(async (o: Record<string, any>) => {
      const url = runtimeUrl(o), tok = token(o, true)!, tls = clientTls(o, url);
      const { GspWorker } = await import('../control/gsp-worker.ts'); // Kafka client: loaded on use
      const { RuntimeClient } = await import('../control/http-client.ts');
      const { validName } = await import('../control/credentials.ts');
      let name: string | undefined = o.name;
      if (name === undefined) {
        const me = await new RuntimeClient(url, tok, tls).call<{ role: string; name: string }>('GET', '/whoami').catch(() => null);
        name = me?.role === 'worker' ? me.name : `${hostname()}-${process.pid}`;
      }
      if (!validName(name)) throw new IntstreamError('USAGE', `--name ${name}: not 1 to 64 of A-Z a-z 0-9 . _ -`);
      if (o.sinkDir !== undefined && !existsSync(o.sinkDir)) throw new IntstreamError('USAGE', `--sink-dir ${o.sinkDir}: no such folder`);
      const w = new GspWorker({ name, runtime: url, token: tok, tls, kafka: o.kafka, allowCode: o.allowCode === true, sinkDir: o.sinkDir });
      w.start();
      w.log(`taking tasks from ${url}${o.allowCode ? ' (runs submitted query files)' : ''}`);
      await serveUntilSignal('gsp', () => w.stop());
    });
}
