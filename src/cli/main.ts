/**
 * The `intstream` command. One module per subcommand; usage errors print one line and exit 2,
 * runtime failures exit 1 (docs/contracts.md), never with a stack trace unless INTSTREAM_DEBUG=1.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { exitCodeFor, IntstreamError } from '../errors.ts';
import { appsCommand } from './apps-command.ts';
import { runCommand } from './run-command.ts';
import { agentCommand } from './agent-command.ts';
import { gspCommand } from './gsp-command.ts';
import { runtimeCommand } from './runtime-command.ts';
import { submitCommand } from './submit-command.ts';
import { tasksCommand } from './tasks-command.ts';
import { resultsCommand } from './results-command.ts';
import { stopCommand } from './stop-command.ts';
import { deleteCommand } from './delete-command.ts';
import { intGenCommand } from './int-gen-command.ts';
import { exportCommand } from './export-command.ts';
import { KAFKA_CONFIG_ENV, kafkaSecurity } from '../transport/kafka-security.ts';

/** The package's version (package.json sits two levels up from src/cli and from dist/cli). */
const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

export async function main(argv: string[]): Promise<number> {
  // `intstream run ... | head`: the reader went away; stop quietly, as other Unix tools do
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    process.stderr.write(`intstream: standard output: ${e.message}\n`);
    process.exit(1);
  });
  const program = new Command('intstream')
    .description('intent-driven streaming network telemetry: queries run near each source, then globally')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .option('--kafka-config <file>', `Kafka client config for every Kafka client of the command (TLS, SASL/SCRAM), Java/librdkafka properties: security.protocol, sasl.mechanism, sasl.username, sasl.password, ssl.ca.location, ... (docs/contracts.md); default $${KAFKA_CONFIG_ENV}`)
    // the one place it is applied: the environment, so child processes (GSP workers, ...) inherit it;
    // read now so that a bad file fails before the command starts
    .hook('preAction', (root) => {
      const file = root.opts<{ kafkaConfig?: string }>().kafkaConfig;
      if (file === undefined) return;
      process.env[KAFKA_CONFIG_ENV] = resolve(file);
      kafkaSecurity();
    });
  for (const c of [runCommand(), exportCommand(), appsCommand(), intGenCommand(), runtimeCommand(), agentCommand(), gspCommand(), submitCommand(), tasksCommand(), resultsCommand(), stopCommand(), deleteCommand()]) {
    c.exitOverride();
    c.showHelpAfterError('(run with --help for usage)');
    program.addCommand(c);
  }
  program.addHelpText('after', `
Examples:
  $ intstream apps
  $ intstream run tcp-new-conn --source pcap:samples/demo.pcap
  $ intstream run --help`);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2; // commander already printed the one-line error
    }
    if (e instanceof IntstreamError) {
      process.stderr.write(`intstream: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
      if (process.env.INTSTREAM_DEBUG) process.stderr.write(`${e.stack}\n`);
      return exitCodeFor(e.code);
    }
    const err = e as Error;
    process.stderr.write(`intstream: internal error: ${err?.message ?? e}\n  (set INTSTREAM_DEBUG=1 for the stack trace and report it)\n`);
    if (process.env.INTSTREAM_DEBUG) process.stderr.write(`${err?.stack}\n`);
    return 1;
  }
}
