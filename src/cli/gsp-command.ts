/** `intstream gsp`: a GSP worker, one member of each task's Kafka consumer group. */
import { hostname } from 'node:os';
import { Command } from 'commander';
import { runtimeUrl, token, serveUntilSignal } from './control-options.ts';

export function gspCommand(): Command {
  return new Command('gsp')
    .description("run the tasks' global stages as a Kafka consumer group member (start more to scale out)")
    .requiredOption('--kafka <host:port>', 'Kafka broker')
    .option('--name <name>', 'worker name (default: host name and pid)')
    .option('--runtime <url>', 'the runtime to take tasks from (default $INTSTREAM_RUNTIME or http://127.0.0.1:7070)')
    .option('--token <token>', 'shared token (default $INTSTREAM_TOKEN)')
    .addHelpText('after', `
Examples:
  $ intstream gsp --kafka 127.0.0.1:9092 --runtime http://127.0.0.1:7070 --token "$TOKEN"`)
    .action(async (o: Record<string, any>) => {
      const { GspWorker } = await import('../control/gsp-worker.ts'); // Kafka client: loaded on use
      const w = new GspWorker({ name: o.name ?? `${hostname()}-${process.pid}`, runtime: runtimeUrl(o), token: token(o, true)!, kafka: o.kafka });
      w.start();
      w.log(`taking tasks from ${runtimeUrl(o)}`);
      await serveUntilSignal('gsp', () => w.stop());
    });
}
