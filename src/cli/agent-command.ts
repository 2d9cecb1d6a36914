/** `intstream agent`: runs the local stages the runtime assigns, next to one source. */
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { IntstreamError } from '../errors.ts';
import { parseDuration } from './format.ts';
import { runtimeUrl, token, serveUntilSignal } from './control-options.ts';

export function agentCommand(): Command {
  return new Command('agent')
    .description('run the local stages of the tasks a runtime assigns, next to one source')
    .requiredOption('-s, --source <spec>', 'where packets come from (as for run)')
    .option('--name <name>', 'agent name (default: the host name)')
    .option('--runtime <url>', 'the runtime to take tasks from (default $INTSTREAM_RUNTIME or http://127.0.0.1:7070)')
    .option('--token <token>', 'shared token (default $INTSTREAM_TOKEN)')
    .option('--label <k=v>', 'label for task placement (repeatable)', (v: string, p: string[]) => [...p, v], [])
    .option('--heartbeat <duration>', 'heartbeat interval', '1s')
    .option('--kafka <host:port>', "override the task's Kafka address")
    .option('--lateness <duration>', 'event-time lateness allowed before a window closes (default 0s; 60s for netflow: sources)')
    .addOption(new Option('--time <domain>', 'live sources: window by packet timestamps, or by processing time').choices(['packet', 'processing']))
    .option('--allow-probe <cidr>', 'network this agent may probe (repeatable)', (v: string, p: string[]) => [...p, v], [])
    .addHelpText('after', `
Examples:
  $ intstream agent --source pcap:- --name edge1 --runtime http://10.0.0.1:7070 --token "$TOKEN" --label site=ams`)
    .action(async (o: Record<string, any>) => {
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
      const { Agent } = await import('../control/agent.ts'); // Kafka client: loaded on use
      const agent = new Agent({
        name: o.name ?? hostname(), source: o.source, runtime: runtimeUrl(o), token: token(o, true)!, labels,
        heartbeatMs: parseDuration(o.heartbeat) * 1000, kafka: o.kafka, allowProbe: o.allowProbe, lateness, time: o.time,
      });
      await agent.start();
      agent.log(`registered with ${runtimeUrl(o)}`);
      await serveUntilSignal('agent', () => agent.stop());
    });
}
