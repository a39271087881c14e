// `nowpipe login` end to end: the built CLI, the simulator's authorize and token endpoints, and
// the test playing the browser (it GETs the printed URL and follows the redirect to the CLI's
// listener). Every run has its own HOME and XDG_CONFIG_HOME: the real ones are never touched.
import { lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimOAuthOptions, type Simulator } from '../../src/sim/index.js';
import { runCli, startCli, sysIds, tableRequests, tempDir, visibleIds, waitFor, type StartedCli } from '../helpers/cli.js';

const PUBLIC = { id: 'nowpipe-cli' };
const CONFIDENTIAL = { id: 'nowpipe-web', secret: 'c0nfidential-CLIENT-secret' };
const DENYING = { id: 'nowpipe-denied', deny: true };

let sims: Simulator[] = [];
let clis: StartedCli[] = [];
afterEach(async () => {
  for (const c of clis) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  await Promise.all(sims.map((s) => s.close()));
  sims = [];
  clis = [];
});

async function instance(oauth: Partial<SimOAuthOptions> = {}): Promise<Simulator> {
  const sim = await startSimulator({ rows: 25, seed: 13, oauth: { clients: [PUBLIC, CONFIDENTIAL, DENYING], clientCredentials: false, ...oauth } });
  sims.push(sim);
  return sim;
}

/** A home of its own for a test: HOME and XDG_CONFIG_HOME, and where the credentials file goes. */
async function home(): Promise<{ dir: string; env: Record<string, string>; folder: string; file: string }> {
  const dir = await tempDir('nowpipe-login-');
  const folder = join(dir, 'config', 'nowpipe');
  return { dir, env: { HOME: dir, XDG_CONFIG_HOME: join(dir, 'config') }, folder, file: join(folder, 'credentials.json') };
}

interface Login {
  cli: StartedCli;
  url: URL;
  redirectUri: string;
}

/** Starts `nowpipe login --no-browser` and reads the authorize URL it prints. */
async function startLogin(sim: Simulator, env: Record<string, string>, args: string[] = ['--client-id', PUBLIC.id]): Promise<Login> {
  const cli = startCli(['login', '--url', sim.url, '--no-browser', ...args], { env });
  clis.push(cli);
  const found = () => /^ {2}(http:\/\/\S+\/oauth_auth\.do\?\S+)$/m.exec(cli.out.stderr)?.[1];
  await waitFor(() => found() !== undefined || cli.child.exitCode !== null, 15_000, 'the authorize URL');
  const printed = found();
  if (printed === undefined) throw new Error(`no authorize URL printed:\n${cli.out.stderr}`);
  const url = new URL(printed);
  return { cli, url, redirectUri: url.searchParams.get('redirect_uri')! };
}

/** What a browser does: GET the authorize URL and follow the instance's redirect to the CLI. */
async function browse(url: URL | string): Promise<{ status: number; page: string }> {
  const res = await fetch(url);
  return { status: res.status, page: await res.text() };
}

const tokenRequests = (sim: Simulator) => sim.requests.filter((r) => r.path === '/oauth_token.do');
const exportArgs = (sim: Simulator, dir: string, ...more: string[]) => ['--url', sim.url, '--table', 'incident', '--checkpoint', join(dir, `cp-${Date.now()}.json`), ...more];
const storedToken = async (file: string) => (JSON.parse(await readFile(file, 'utf8')) as { logins: Array<{ refreshToken: string }> }).logins[0]!.refreshToken;

describe('nowpipe login (built CLI, simulated instance)', () => {
  it('logs in with PKCE, stores the refresh token (0600 in a 0700 folder), and an export with only --url --client-id --table uses it', async () => {
    const sim = await instance();
    const { dir, env, folder, file } = await home();
    const login = await startLogin(sim, env);
    expect(login.url.origin + login.url.pathname).toBe(`${sim.url}/oauth_auth.do`);
    expect([...login.url.searchParams.keys()]).toEqual(['response_type', 'client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method']);
    expect(Object.fromEntries(login.url.searchParams)).toMatchObject({ response_type: 'code', client_id: PUBLIC.id, code_challenge_method: 'S256' });
    expect(login.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);

    const browser = await browse(login.url);
    expect(browser.status).toBe(200);
    expect(browser.page).toContain('You can close this tab.');
    expect(await login.cli.code).toBe(0);
    expect(login.cli.out.stdout).toBe('');
    expect(login.cli.out.stderr).toContain(`Logged in to ${sim.url} with the OAuth client ${PUBLIC.id}. The refresh token is in ${file}`);

    const saved = JSON.parse(await readFile(file, 'utf8')) as { version: number; logins: Array<Record<string, string>> };
    expect(saved.version).toBe(1);
    expect(saved.logins).toHaveLength(1);
    expect(Object.keys(saved.logins[0]!).sort()).toEqual(['clientId', 'instance', 'refreshToken', 'savedAt']); // never the access token
    expect(saved.logins[0]).toMatchObject({ instance: sim.url, clientId: PUBLIC.id, refreshToken: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(folder)).mode & 0o777).toBe(0o700);
    expect(login.cli.out.stderr).not.toContain(saved.logins[0]!.refreshToken);

    const res = await runCli(exportArgs(sim, dir, '--client-id', PUBLIC.id), { env });
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(sim).sort());
    expect(tokenRequests(sim)).toHaveLength(2); // the code exchange, then the export's refresh grant
    expect(tableRequests(sim).every((r) => r.auth === 'bearer')).toBe(true);
    expect(res.stderr).not.toContain(saved.logins[0]!.refreshToken);

    const check = await runCli(['check', '--url', sim.url, '--client-id', PUBLIC.id, '--table', 'incident'], { env });
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain(`connected to ${sim.url} with OAuth client ${PUBLIC.id}`);
  });

  it('a confidential client: the secret goes with the exchange and the refresh grant, and no secret reaches stderr (--verbose)', async () => {
    const sim = await instance();
    const { dir, env, file } = await home();
    const login = await startLogin(sim, env, ['--client-id', CONFIDENTIAL.id, '--client-secret', CONFIDENTIAL.secret, '--oauth-scope', 'useraccount', '--verbose']);
    expect(login.url.searchParams.get('scope')).toBe('useraccount');
    // The browser's two steps one at a time, to see the code the instance hands back.
    const redirect = await fetch(login.url, { redirect: 'manual' });
    const back = new URL(redirect.headers.get('location')!);
    const code = back.searchParams.get('code')!;
    expect(code).toMatch(/^[0-9a-f]{32}$/);
    expect((await browse(back)).status).toBe(200);
    expect(await login.cli.code, login.cli.out.stderr).toBe(0);
    const refresh = await storedToken(file);
    const res = await runCli(exportArgs(sim, dir, '--client-id', CONFIDENTIAL.id, '--verbose'), { env: { ...env, SERVICENOW_CLIENT_SECRET: CONFIDENTIAL.secret } });
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout)).toHaveLength(visibleIds(sim).length);
    for (const secret of [CONFIDENTIAL.secret, refresh, code]) expect(login.cli.out.stderr + res.stderr).not.toContain(secret);
    expect(tokenRequests(sim).map((r) => r.status)).toEqual([200, 200]);
  });

  it('a rotated refresh token is stored for the next run; a refused one says to log in again (exit 1)', async () => {
    const sim = await instance({ rotateRefreshTokens: true });
    const { dir, env, file } = await home();
    const login = await startLogin(sim, env);
    await browse(login.url);
    expect(await login.cli.code).toBe(0);
    const first = await storedToken(file);

    const one = await runCli(exportArgs(sim, dir, '--client-id', PUBLIC.id), { env });
    expect(one.code, one.stderr).toBe(0);
    const second = await storedToken(file);
    expect(second).not.toBe(first);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // The first token is revoked by the rotation: only the stored new one can make this run work.
    const two = await runCli(exportArgs(sim, dir, '--client-id', PUBLIC.id), { env });
    expect(two.code, two.stderr).toBe(0);

    sim.revokeRefreshTokens(); // expired after 100 days, or revoked by an admin
    const refused = await runCli(exportArgs(sim, dir, '--client-id', PUBLIC.id), { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error: the instance refused the OAuth refresh_token grant/);
    expect(refused.stderr).toContain(`hint: the login stored by nowpipe login (`);
    expect(refused.stderr).toContain(`run nowpipe login --url ${sim.url} --client-id ${PUBLIC.id} again`);
    expect(refused.stderr).not.toContain(await storedToken(file));
    expect(refused.stdout).toBe('');
  });

  it('an answer with another state is refused: exit 1, the code never exchanged, nothing stored', async () => {
    const sim = await instance();
    const { env, file } = await home();
    const login = await startLogin(sim, env);
    const forged = new URL(login.redirectUri);
    forged.search = new URLSearchParams({ code: 'f0rged-code', state: 'not-this-login' }).toString();
    const answer = await browse(forged);
    expect(answer.status).toBe(400);
    expect(answer.page).toContain('does not belong to the login nowpipe started');
    expect(await login.cli.code).toBe(1);
    expect(login.cli.out.stderr).toMatch(/error: the redirect to http:\/\/127\.0\.0\.1:\d+\/callback did not carry this login's state: refused, nothing was stored/);
    expect(login.cli.out.stderr).not.toContain('f0rged-code');
    expect(tokenRequests(sim)).toEqual([]);
    await expect(lstat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('access denied at the instance: exit 1 with the reason, nothing stored', async () => {
    const sim = await instance();
    const { env, file } = await home();
    const login = await startLogin(sim, env, ['--client-id', DENYING.id]);
    const browser = await browse(login.url);
    expect(browser.status).toBe(400);
    expect(browser.page).toContain('The instance did not grant the login (access_denied: The user denied the request).');
    expect(await login.cli.code).toBe(1);
    expect(login.cli.out.stderr).toContain('error: the instance did not grant the login (access_denied: The user denied the request)');
    expect(login.cli.out.stderr).toMatch(/hint: access was denied at the instance/);
    expect(login.cli.out.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(tokenRequests(sim)).toEqual([]);
    await expect(lstat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('logout removes the login (and says so); then a client id alone is exit 2 saying to log in', async () => {
    const sim = await instance();
    const { dir, env, file } = await home();
    const login = await startLogin(sim, env);
    await browse(login.url);
    expect(await login.cli.code).toBe(0);

    const out = await runCli(['logout', '--url', sim.url, '--client-id', PUBLIC.id], { env });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toMatch(new RegExp(`^Removed the login to ${sim.url} with the OAuth client ${PUBLIC.id} \\(stored \\d{4}-\\d\\d-\\d\\d\\) from ${file}\\.$`, 'm'));
    await expect(lstat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    const again = await runCli(['logout', '--url', sim.url], { env });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`No login stored for ${sim.url} (in ${file}): nothing to remove.`);

    const res = await runCli(exportArgs(sim, dir, '--client-id', PUBLIC.id), { env });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`error: --client-id: no login stored for ${sim.url} with this client (in ${file}): log in once with nowpipe login --url ${sim.url} --client-id ${PUBLIC.id}`);
    expect(tableRequests(sim)).toEqual([]);
  });

  it('a symbolic link at the credentials path: refused before the browser is sent anywhere, the link and its target untouched', async () => {
    const sim = await instance();
    const { dir, env, folder, file } = await home();
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const target = join(dir, 'dotfiles-credentials.json');
    await writeFile(target, '{"version":1,"logins":[]}\n');
    await symlink(target, file);
    const res = await runCli(['login', '--url', sim.url, '--client-id', PUBLIC.id, '--no-browser'], { env });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`error: ${file} is a symbolic link: nowpipe neither reads nor writes its secrets through a link`);
    expect(res.stderr).not.toContain('oauth_auth.do');
    expect(await readlink(file)).toBe(target);
    expect(await readFile(target, 'utf8')).toBe('{"version":1,"logins":[]}\n');
    expect(sim.requests).toEqual([]);
  });

  it('--redirect-port: the registered Redirect URL is used; a port in use is exit 1 saying so', async () => {
    const port = await freePort();
    const sim = await instance({ clients: [{ id: 'fixed-app', redirectUri: `http://127.0.0.1:${port}/callback` }] });
    const { env, file } = await home();
    const login = await startLogin(sim, env, ['--client-id', 'fixed-app', '--redirect-port', String(port)]);
    expect(login.redirectUri).toBe(`http://127.0.0.1:${port}/callback`);
    expect((await browse(login.url)).status).toBe(200);
    expect(await login.cli.code).toBe(0);
    expect(await storedToken(file)).toMatch(/^[0-9a-f]{32}$/);

    const holder = createServer();
    await new Promise<void>((r) => holder.listen(port, '127.0.0.1', r));
    try {
      const busy = await runCli(['login', '--url', sim.url, '--client-id', 'fixed-app', '--redirect-port', String(port), '--no-browser'], { env });
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain(`error: cannot listen on 127.0.0.1:${port} for the login's redirect: the port is in use by another program`);
      expect(busy.stderr).toContain('hint: free the port or choose another with --redirect-port');
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  });

  it('no answer in time: exit 1 with what to do; Ctrl-C: exit 130, the listener closed, nothing stored', async () => {
    const sim = await instance();
    const { env, file } = await home();
    const late = await runCli(['login', '--url', sim.url, '--client-id', PUBLIC.id, '--no-browser', '--login-timeout', '1'], { env });
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('error: no answer from the browser within 1 s: nothing was stored');
    expect(late.stderr).toContain('--login-timeout');

    const login = await startLogin(sim, env);
    login.cli.child.kill('SIGINT');
    expect(await login.cli.code).toBe(130);
    expect(login.cli.out.stderr).toContain('SIGINT: login cancelled, nothing was stored');
    expect(login.cli.out.stderr).not.toContain('error:');
    await expect(fetch(login.redirectUri)).rejects.toThrow();
    await expect(lstat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('usage errors are exit 2 before listening: no client id, a bad port', async () => {
    const { env } = await home();
    const res = await runCli(['login', '--url', 'https://acme.service-now.com', '--redirect-port', '70000'], { env });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("--client-id: required: the OAuth application's Client ID");
    expect(res.stderr).toContain('--redirect-port: must be at most 65535');
  });
});

/** A port nothing listens on (the OS picks it, then lets it go). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
