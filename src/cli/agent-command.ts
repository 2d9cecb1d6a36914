/** `intstream agent`: runs the local stages the runtime assigns, next to one source. */
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { IntstreamError } from '../errors.ts';
import { parseDuration } from './format.ts';
import { parseWorkers } from '../local/workers/workers-option.ts';
import { clientTls, runtimeUrl, token, serveUntilSignal, withClientTls } from './control-options.ts';

export function agentCommand(): Command {
  return withClientTls(new Command('agent')
    .description('run the local stages of the tasks a runtime assigns, next to one source')
    .requiredOption('-s, --source <spec>', 'where packets come from (as for run)')
    .option('--name <name>', "agent name (default: its credential's name, else the host name)")
    .option('--runtime <url>', 'the runtime to take tasks from (default $INTSTREAM_RUNTIME or http://127.0.0.1:7070)')
    .option('--token <token>', "this agent's token (an agent credential of the runtime's --tokens file) (default $INTSTREAM_TOKEN)"))
    .option('--allow-code', 'also run submitted query files (default: built-in applications only)')
    .option('--label <k=v>', 'label for task placement (repeatable)', (v: string, p: string[]) => [...p, v], [])
    .option('--heartbeat <duration>', 'heartbeat interval', '1s')
    .option('--kafka <host:port>', "override the task's Kafka address")
    .option('--lateness <duration>', 'event-time lateness allowed before a window closes (default 0s; 60s for netflow: sources)')
    .addOption(new Option('--time <domain>', 'live sources: window by packet timestamps, or by processing time').choices(['packet', 'processing']))
    .option('--allow-probe <cidr>', 'network this agent may probe (repeatable)', (v: string, p: string[]) => [...p, v], [])
    .option('--workers <n>', "local-stage threads per task: 1 to 64, or auto (the number of cores); their output is this agent's one stream", '1')
    .addHelpText('after', `
Examples:
  $ intstream agent --source pcap:- --name edge1 --runtime https://10.0.0.1:7070 --ca ca.pem --token "$TOKEN" --label site=ams`)
    .action(async (o: Record<string, any>) => {
      const workers = parseWorkers(o.workers);
      const labels: Record<string, string> = {};
      for (const kv of o.label as string[]) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new IntstreamError('USAGE', `--label ${kv}: expected k=v`);
        labels[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const lateness = o.lateness === undefined ? undefined : parseDuration(o.lateness);
      if (lateness !== undefined && !(lateness >= 0)) throw new IntstreamError('USAGE', `--lateness ${o.lateness}: not a duration`);
      if (o.time === 'processing' && !/^(live|erspan|gre):/.test(o.source)) {
        throw new IntstreamError('USAGE', '--time processing applies to live sources (live:, erspan:, gre:)', 'files and exporters are windowed by their own timestamps');
      }
      const url = runtimeUrl(o), tok = token(o, true)!, tls = clientTls(o, url);
      const { Agent } = await import('../control/agent.ts'); // Kafka client: loaded on use
      const { RuntimeClient } = await import('../control/http-client.ts');
      const { validName } = await import('../control/credentials.ts');
      let name: string | undefined = o.name;
      if (name === undefined) {
        // an agent credential names its agent
        const me = await new RuntimeClient(url, tok, tls).call<{ role: string; name: string }>('GET', '/whoami').catch(() => null);
        name = me?.role === 'agent' ? me.name : hostname();
      }
      if (!validName(name)) throw new IntstreamError('USAGE', `--name ${name}: not 1 to 64 of A-Z a-z 0-9 . _ -`);
      const agent = new Agent({
        name, source: o.source, runtime: url, token: tok, tls, labels, allowCode: o.allowCode === true,
        heartbeatMs: parseDuration(o.heartbeat) * 1000, kafka: o.kafka, allowProbe: o.allowProbe, lateness, time: o.time, workers,
      });
      await agent.start();
      agent.log(`registered with ${url}${o.allowCode ? ' (runs submitted query files)' : ''}`);
      await serveUntilSignal('agent', () => agent.stop());
    });
}
