import { Command, CommanderError } from 'commander';
import { Reporter } from '../ui/reporter.js';
import type { Flags } from './commands/export.js';
import { reportError } from './exit.js';
import { VERSION } from '../version.js';
import { connectionOptions, exportOptions } from './options.js';
import { forcedExit } from './signals.js';

function program(run: (task: Promise<number>) => void): Command {
  const root = new Command('nowpipe')
    .description('Export a ServiceNow table: a backfill from --since, then (--follow) every change, to stdout, files or Kafka.')
    .version(VERSION)
    .showHelpAfterError('(run nowpipe --help for usage)')
    // The subcommands declare the same flags as the default command: without this, the root
    // would take `check --url …` for itself and leave check with no url.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  // Each command's modules load when it runs (the simulator only for demo): start-up time counts
  // in every cron run.
  exportOptions(connectionOptions(root)).action((flags: Flags) => run(import('./commands/export.js').then((m) => m.exportCommand(flags))));

  connectionOptions(root.command('check').description('check the connection, credentials, table, clock, time zone and delete auditing'))
    .option('--query <encoded>', 'extra encoded-query filter to count with')
    .option('--deletes', 'fail when sys_audit_delete cannot be read')
    .exitOverride()
    .action((flags: Flags) => run(import('./commands/check.js').then((m) => m.checkCommand(flags))));

  exportOptions(connectionOptions(root.command('demo').description('run an export against a built-in simulated instance (no credentials needed)')))
    .option('--rows <n>', 'rows in the simulated table (default 2000)')
    .exitOverride()
    .action((flags: Flags) => run(import('./commands/demo.js').then((m) => m.demoCommand(flags))));
  return root;
}

/** The only place nowpipe exits: every outcome becomes an exit code here. */
async function main(argv: string[]): Promise<void> {
  let task: Promise<number> | undefined;
  try {
    await program((t) => {
      task = t;
    }).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      const help = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      process.exit(help ? 0 : 2);
    }
    process.exit(reportError(err, new Reporter()));
  }
  let code: number;
  try {
    // A second signal quits at once, whatever the command is still doing.
    code = task ? await Promise.race([task, forcedExit]) : 0;
  } catch (err) {
    code = reportError(err, new Reporter({ verbose: argv.includes('--verbose') || argv.includes('-v') }));
  }
  // Keep-alive sockets and timers must not keep a finished run alive.
  process.exit(code);
}

await main(process.argv);
