import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, resolveConfig } from '../../src/config/load.js';
import type { StoredLogins } from '../../src/config/resolve.js';
import { credentialsPath, saveLogin } from '../../src/login/store.js';
import { tempDir } from '../helpers/cli.js';
import { configProblems as problems } from '../helpers/config.js';

const URL_ = 'https://acme.service-now.com';
const base = { url: URL_, table: 'incident' };
const LOGIN = { instance: URL_, clientId: 'app', refreshToken: 'st0red-REFRESH', savedAt: '2024-05-01T10:00:00.000Z' };
const logins = (extra: Partial<StoredLogins> = {}): StoredLogins => ({ path: '/home/u/.config/nowpipe/credentials.json', list: [LOGIN], ...extra });
const resolve = (flags: Record<string, unknown>, stored: StoredLogins | undefined = logins()) =>
  resolveConfig({ flags: { ...base, ...flags }, require: ['url', 'table', 'credentials'], logins: stored });

describe('a login stored by nowpipe login', () => {
  it('counts as credentials: a client id alone uses the refresh token stored for its instance', () => {
    const { config } = resolve({ clientId: 'app' });
    expect(config.refreshToken).toBe('st0red-REFRESH');
    expect(config.storedLogin).toEqual({ path: logins().path, savedAt: LOGIN.savedAt });
  });

  it('found by the instance as --url resolves it (case, trailing slash), and by the client id', () => {
    expect(resolve({ url: 'https://ACME.service-now.com/', clientId: 'app' }).config.refreshToken).toBe('st0red-REFRESH');
    expect(problems(() => resolve({ clientId: 'other' }))).toEqual([
      `--client-id: no login stored for ${URL_} with this client (in ${logins().path}): log in once with nowpipe login --url ${URL_} --client-id other, or give --client-secret (client_credentials) or --refresh-token`,
    ]);
    expect(problems(() => resolve({ url: 'https://dev.service-now.com', clientId: 'app' }))[0]).toMatch(/^--client-id: no login stored for https:\/\/dev\.service-now\.com/);
  });

  it('with a client secret: the stored login when there is one (a confidential client refreshes with it), else client_credentials', () => {
    expect(resolve({ clientId: 'app', clientSecret: 's' }).config).toMatchObject({ refreshToken: 'st0red-REFRESH', clientSecret: 's' });
    const { config } = resolve({ clientId: 'other', clientSecret: 's' });
    expect(config.refreshToken).toBeUndefined();
    expect(config.storedLogin).toBeUndefined();
  });

  it("credentials of the run's own win: a refresh token, or a user with a password", () => {
    const given = resolve({ clientId: 'app', refreshToken: 'given' }).config;
    expect([given.refreshToken, given.storedLogin]).toEqual(['given', undefined]);
    const password = resolve({ clientId: 'app', clientSecret: 's', user: 'u', password: 'p' }).config;
    expect([password.refreshToken, password.storedLogin]).toEqual([undefined, undefined]);
  });

  it('a credentials file that cannot be read: said when the run needs it, a warning when a secret does the job', () => {
    const broken = logins({ list: [], problem: '/x/credentials.json is not valid JSON (remove it)' });
    expect(problems(() => resolve({ clientId: 'app' }, broken))).toEqual(['/x/credentials.json is not valid JSON (remove it)']);
    expect(resolve({ clientId: 'app', clientSecret: 's' }, broken).warnings).toContain('stored logins not read: /x/credentials.json is not valid JSON (remove it)');
    expect(() => resolve({ user: 'u', password: 'p' }, broken)).not.toThrow();
  });

  it('a file others can read: a warning with the stored login', () => {
    expect(resolve({ clientId: 'app' }, logins({ warning: 'loose' })).warnings).toContain('loose');
  });

  it('loadConfig reads $XDG_CONFIG_HOME/nowpipe/credentials.json (only for a run with a client id)', async () => {
    const dir = await tempDir();
    const env = { XDG_CONFIG_HOME: join(dir, 'cfg') };
    await saveLogin(credentialsPath(env), LOGIN);
    const { config } = await loadConfig({ flags: { ...base, clientId: 'app' }, cwd: dir, env });
    expect(config.refreshToken).toBe('st0red-REFRESH');
    expect(config.storedLogin?.path).toBe(join(dir, 'cfg', 'nowpipe', 'credentials.json'));
    // login and logout do not use a stored login (they make and remove them).
    const login = await loadConfig({ flags: { url: URL_, clientId: 'app' }, cwd: dir, env, require: ['url', 'clientId'] });
    expect(login.config.refreshToken).toBeUndefined();
  });

  it('nowpipe login needs a client id', () => {
    expect(problems(() => resolveConfig({ flags: { url: URL_ }, require: ['url', 'clientId'] }))).toEqual([
      "--client-id: required: the OAuth application's Client ID, from System OAuth > Application Registry (or SERVICENOW_CLIENT_ID)",
    ]);
  });
});
