import { Command, CommanderError, Help, Option } from 'commander';
import { Reporter, setDefaultLogFormat } from '../ui/reporter.js';
import type { Flags } from './commands/export.js';
import { REPORT_URL, reportError, withoutValues } from './exit.js';
import { VERSION } from '../errors/version.js';
import { connectionOptions, DEMO_REFUSED, exportOptions, GROUP, loginOptions, logoutOptions, otherOptions, runOptions } from './options.js';
import { forcedExit } from './signals.js';
import { logFormatFromArgs, logFormatFromRc } from './log-format.js';

/** What `nowpipe` alone prints (nothing to export yet): where to start, not every option. */
const SHORT_USAGE = `nowpipe exports a ServiceNow table to stdout (NDJSON), files or Kafka.

Try it on a built-in simulated instance, no credentials needed:
  nowpipe demo
Check the connection to your instance, then export:
  nowpipe check --url <instance> --table <name> --user <name>
  nowpipe --url <instance> --table <name> --user <name> [--follow]

The password comes from SERVICENOW_PASSWORD or --password-file <path>.
Every option: nowpipe --help
`;

const EXAMPLES = `
Examples:
  nowpipe demo                                 2,000 simulated incidents to stdout, no instance needed
  nowpipe demo --follow --format envelope      a live feed of changes from the simulated instance
  nowpipe check --url https://acme.service-now.com --table incident --user integration
  nowpipe --url https://acme.service-now.com --table incident --since 2024-01-01 \\
    --user integration --password-file ~/.sn-password --follow | jq -r .number
  nowpipe --table incident --sink file --output /data/sn --compress gzip   (url and user in .nowpiperc)
  nowpipe --config servicenow-source.json      a Confluent connector file as it is
  nowpipe login --url https://acme.service-now.com --client-id 3f1c…   log in once in a browser (OAuth)
  nowpipe --table incident --types             typed values: numbers, booleans, ISO dates (nowpipe schema --table incident)
  nowpipe help check                           one command's options

Exit codes:
  0            done; stopped by Ctrl-C, SIGTERM or SIGHUP after saving the checkpoint; or stdout's
               reader went away
  1            runtime failure: credentials refused, no rights, network still failing after the
               retries, sink failure, a bad row (--on-bad-row fail), checkpoint locked by another run
  2            usage or configuration error: bad flag or value, unknown table, checkpoint of another
               export, --metrics-port in use
  130/143/129  a second Ctrl-C / SIGTERM / SIGHUP while stopping: exit at once (the checkpoint is
               never torn); nowpipe login cancelled by Ctrl-C / SIGTERM (nothing stored)
`;

const CHECK_EXAMPLES = `
Examples:
  nowpipe check --url https://acme.service-now.com --table incident,problem --user integration
  nowpipe check --table incident --query active=true --json | jq '.checks[] | select(.status != "ok")'

The report goes to stdout, warnings and errors to stderr. Exit 0 when every check passes,
1 when one fails (the report says which), 2 for a usage or configuration error.
`;

const DEMO_EXAMPLES = `
Examples:
  nowpipe demo | jq -r .number
  nowpipe demo --rows 100000 --concurrency 8 > /dev/null
  nowpipe demo --follow --deletes --format envelope

demo always runs against its own simulated instance (user admin, nothing to set up), so
--url, --config and the credential flags are refused.
`;

const LOGIN_HELP = `
Examples:
  nowpipe login --url https://acme.service-now.com --client-id 3f1c…
  nowpipe login --url https://acme.service-now.com --client-id 3f1c… --redirect-port 8765 --no-browser
  nowpipe --url https://acme.service-now.com --client-id 3f1c… --table incident   (uses the login)

nowpipe listens on 127.0.0.1 for the browser's redirect: the OAuth application's Redirect URL
must be http://127.0.0.1:<port>/callback (give the port with --redirect-port). The refresh token
is stored in ~/.config/nowpipe/credentials.json ($XDG_CONFIG_HOME/nowpipe/ when set), readable
only by you; it is never printed. Exit 0 when logged in, 1 when the login failed or was denied,
2 for a usage or configuration error, 130 when cancelled with Ctrl-C (nothing is stored).
`;

const LOGOUT_HELP = `
Examples:
  nowpipe logout --url https://acme.service-now.com
  nowpipe logout --url https://acme.service-now.com --client-id 3f1c…

It removes the refresh token from nowpipe's credentials file; the instance still honours it until
it expires or an admin revokes it (System OAuth > Manage Tokens).
`;

const SCHEMA_EXAMPLES = `
Examples:
  nowpipe schema --url https://acme.service-now.com --table incident --user integration > incident.schema.json
  nowpipe schema --table incident --format connect | jq '.fields[] | select(.type != "string")'

The schema goes to stdout. It needs read access to sys_db_object and sys_dictionary.
`;

/** The root's help lists its commands before its ~55 options, not after them. */
function commandsFirst(cmd: Command, helper: Help): string {
  // Blocks: usage, description, then the groups (commander puts Commands last).
  const blocks = Help.prototype.formatHelp.call(helper, cmd, helper).trimEnd().split('\n\n');
  const at = blocks.findIndex((b) => b.startsWith('Commands:'));
  if (at > 2) blocks.splice(2, 0, ...blocks.splice(at, 1));
  return `${blocks.join('\n\n')}\n`;
}

const HELP_AFTER_ERROR = '(run nowpipe --help for usage)';

/** `writeErr`: where commander's own errors go (held until the log format is known). */
function program(run: (task: Promise<number>) => void, writeErr: (s: string) => void): Command {
  const root = new Command('nowpipe')
    .description('Export a ServiceNow table: a backfill from --since, then (--follow) every change, to stdout, files or Kafka.\nDocumentation: https://github.com/nowpipe/nowpipe#readme')
    .showHelpAfterError(HELP_AFTER_ERROR)
    // The subcommands declare the same flags as the default command: without this, the root
    // would take `check --url …` for itself and leave check with no url.
    .enablePositionalOptions()
    // A word that is no command reaches the action, which names it (with a suggestion).
    .allowExcessArguments()
    .exitOverride()
    .configureOutput({ writeErr })
    .configureHelp({ formatHelp: commandsFirst });
  // Each command's modules load when it runs (the simulator only for demo): start-up time counts
  // in every cron run.
  runOptions(exportOptions(connectionOptions(root)));
  otherOptions(root)
    .version(VERSION, '-V, --version', 'print the version')
    .addHelpText('after', EXAMPLES.trimEnd())
    .action((flags: Flags, cmd: Command) => {
      if (cmd.args.length > 0) unknownCommand(cmd, cmd.args[0]!);
      run(import('./commands/export.js').then((m) => m.exportCommand(flags)));
    });

  const check = connectionOptions(root.command('check').description('check the connection, credentials, table, clock, time zone and delete auditing'))
    .optionsGroup(GROUP.read)
    .option('--query <encoded>', 'extra encoded-query filter to count with')
    .option('--cursor-field <field>', 'date-time field the export pages by, checked like sys_updated_on (default sys_updated_on)')
    .option('--deletes', 'fail when sys_audit_delete cannot be read')
    .option('--types', "fail when the table's dictionary cannot be read (what --types needs)");
  runOptions(check).option('--json', 'print the report as one JSON document (for scripts)');
  otherOptions(check)
    .addHelpText('after', CHECK_EXAMPLES.trimEnd())
    .exitOverride()
    .action((flags: Flags) => run(import('./commands/check.js').then((m) => m.checkCommand(flags))));

  const schema = connectionOptions(root.command('schema').description("print a table's JSON Schema (or Kafka Connect schema), read from its dictionary: the rows --types writes"))
    .optionsGroup(GROUP.where)
    .addOption(new Option('--format <name>', 'json-schema (default: JSON Schema draft 2020-12) or connect (the schema of --format connect-json messages)').choices(['json-schema', 'connect']));
  otherOptions(runOptions(schema))
    .addHelpText('after', SCHEMA_EXAMPLES.trimEnd())
    .exitOverride()
    .action((flags: Flags) => run(import('./commands/schema.js').then((m) => m.schemaCommand(flags))));

  const demo = runOptions(exportOptions(connectionOptions(root.command('demo').description('run an export against a built-in simulated instance (no credentials needed)'))))
    .optionsGroup(GROUP.demo)
    .addOption(new Option('--rows <n>', 'rows in the simulated table (default 2000)'));
  // Still parsed (so demo can say why it refuses them), but not offered.
  for (const o of demo.options) if (o.long && DEMO_REFUSED.includes(o.long)) o.hideHelp();
  otherOptions(demo)
    .addHelpText('after', DEMO_EXAMPLES.trimEnd())
    .exitOverride()
    .action((flags: Flags) => run(import('./commands/demo.js').then((m) => m.demoCommand(flags))));
  const login = loginOptions(root.command('login').description('log in from a terminal with OAuth (authorization code + PKCE) and keep the refresh token for later runs'));
  otherOptions(runOptions(login))
    .addHelpText('after', LOGIN_HELP.trimEnd())
    .exitOverride()
    .action((flags: Flags) => run(import('./commands/login.js').then((m) => m.loginCommand(flags))));

  const logout = logoutOptions(root.command('logout').description('remove the login nowpipe login stored for an instance'));
  otherOptions(runOptions(logout))
    .addHelpText('after', LOGOUT_HELP.trimEnd())
    .exitOverride()
    .action((flags: Flags) => run(import('./commands/logout.js').then((m) => m.logoutCommand(flags))));

  // The root has an action (the export), so commander adds no `help` command by itself.
  root
    .command('help [command]')
    .description('show the help of a command')
    .action((name?: string) => {
      const cmd = name === undefined ? root : root.commands.find((c) => c.name() === name);
      if (cmd) cmd.help();
      unknownCommand(root, name!);
    });
  return root;
}

/** commander's own message and its "(Did you mean check?)"; the method is not in its typings. */
function unknownCommand(root: Command, name: string): never {
  root.args = [name];
  return (root as unknown as { unknownCommand(): never }).unknownCommand();
}

/**
 * `nowpipe` with no arguments, no rc file and no SERVICENOW_URL has nothing to export: a short
 * usage says where to start (an rc file alone is a complete run, as in cron).
 */
async function nothingToDo(argv: string[]): Promise<boolean> {
  if (argv.length > 2 || process.env.SERVICENOW_URL) return false;
  const { readRcFile } = await import('../config/load.js');
  const rc = await readRcFile(undefined, process.cwd()).catch(() => ({ raw: 'unreadable' }));
  return rc.raw === undefined;
}

/**
 * --log-format json, said before the configuration is read: on the command line or in the
 * environment (set at start), or, once something went wrong, in the rc file.
 */
async function settleLogFormat(argv: string[]): Promise<boolean> {
  if (logFormatFromArgs(argv) === undefined && (await logFormatFromRc(argv)) === 'json') setDefaultLogFormat('json');
  return new Reporter().json;
}

/** commander's error (`error: unknown option '--tabel'` and its suggestion), in the log format. */
async function sayUsageError(raw: string, argv: string[]): Promise<void> {
  const text = withoutValues(raw);
  if (!(await settleLogFormat(argv))) {
    process.stderr.write(text);
    return;
  }
  const message = text.replace(`${HELP_AFTER_ERROR}\n`, '').replace(/^error: /, '').trim();
  if (message !== '') new Reporter().error(message, 'run nowpipe --help for usage');
}

/** The only place nowpipe exits: every outcome becomes an exit code here. */
async function main(argv: string[]): Promise<void> {
  const early = logFormatFromArgs(argv);
  if (early) setDefaultLogFormat(early);
  if (await nothingToDo(argv)) {
    if (early === 'json') new Reporter().error('nothing to export: no --url, no SERVICENOW_URL and no rc file', 'run nowpipe demo to try it, or nowpipe --help for every option');
    else process.stderr.write(SHORT_USAGE);
    process.exit(2);
  }
  let task: Promise<number> | undefined;
  let usageError = '';
  try {
    await program(
      (t) => {
        task = t;
      },
      (s) => (usageError += s),
    ).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      const help = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      if (usageError !== '') await sayUsageError(usageError, argv);
      process.exit(help ? 0 : 2);
    }
    await settleLogFormat(argv);
    process.exit(reportError(err, new Reporter()));
  }
  if (usageError !== '') process.stderr.write(withoutValues(usageError));
  let code: number;
  // Nothing left to wait on while the command has not finished: something waits on a promise
  // nobody will settle. Node would exit 0 here, with the work half done: say so and fail.
  const stalled = () => {
    process.stderr.write(`error: unexpected error: nowpipe stopped waiting with its work unfinished\nhint: this is a bug in nowpipe; please report it at ${REPORT_URL} with this output\n`);
    process.exit(1);
  };
  process.once('beforeExit', stalled);
  try {
    // A second signal quits at once, whatever the command is still doing.
    code = task ? await Promise.race([task, forcedExit]) : 0;
  } catch (err) {
    await settleLogFormat(argv);
    code = reportError(err, new Reporter({ verbose: argv.includes('--verbose') || argv.includes('-v') }));
  }
  // Keep-alive sockets and timers must not keep a finished run alive.
  process.exit(code);
}

await main(process.argv);
