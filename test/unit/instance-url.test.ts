// Pure units: --url as users type and paste it.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load.js';
import { parseInstanceUrl } from '../../src/config/url.js';

describe('parseInstanceUrl', () => {
  it('keeps an instance root, adds https:// when the scheme is missing', () => {
    expect(parseInstanceUrl('https://acme.service-now.com/')).toEqual({ url: 'https://acme.service-now.com' });
    expect(parseInstanceUrl('acme.service-now.com')).toEqual({ url: 'https://acme.service-now.com' });
    expect(parseInstanceUrl('http://127.0.0.1:28080')).toEqual({ url: 'http://127.0.0.1:28080' });
  });

  it('drops a page of the web UI pasted from the browser, and says what was dropped', () => {
    const cases: Array<[string, string]> = [
      ['https://acme.service-now.com/now/nav/ui/classic/params/target/incident_list.do', '/now/nav/ui/classic/params/target/incident_list.do'],
      ['https://acme.service-now.com/nav_to.do?uri=%2Fincident.do', '/nav_to.do?uri=%2Fincident.do'],
      ['https://acme.service-now.com/incident_list.do', '/incident_list.do'],
      ['https://acme.service-now.com/$pa_dashboard.do', '/$pa_dashboard.do'],
      ['https://acme.service-now.com/now/workspace/agent/home', '/now/workspace/agent/home'],
      ['https://acme.service-now.com/api/now/table/incident', '/api/now/table/incident'],
    ];
    for (const [pasted, path] of cases) expect(parseInstanceUrl(pasted)).toEqual({ url: 'https://acme.service-now.com', dropped: { path } });
  });

  it("offers a list page's filter as --query, without its sort order", () => {
    const u = parseInstanceUrl('https://acme.service-now.com/incident_list.do?sysparm_query=active%3Dtrue%5Epriority%3D1%5EORDERBYDESCnumber');
    expect(u).toEqual({ url: 'https://acme.service-now.com', dropped: { path: '/incident_list.do?sysparm_query=active%3Dtrue%5Epriority%3D1%5EORDERBYDESCnumber', query: 'active=true^priority=1' } });
  });

  it('keeps a path it cannot recognise (an instance behind a gateway), and cuts a UI page after it', () => {
    expect(parseInstanceUrl('https://gw.example.com/servicenow/')).toEqual({ url: 'https://gw.example.com/servicenow' });
    expect(parseInstanceUrl('https://gw.example.com/servicenow/incident_list.do')).toEqual({ url: 'https://gw.example.com/servicenow', dropped: { path: '/incident_list.do' } });
    // "now" only counts as a whole segment.
    expect(parseInstanceUrl('https://gw.example.com/nowhere')).toEqual({ url: 'https://gw.example.com/nowhere' });
  });

  it('refuses what is not an instance URL', () => {
    expect(parseInstanceUrl('ftp://acme')).toEqual({ problem: 'unsupported protocol ftp: (use https://)' });
    expect(parseInstanceUrl('https://bob:pw@acme.service-now.com')).toMatchObject({ problem: expect.stringMatching(/do not put credentials in the URL/) });
    expect(parseInstanceUrl('https://exa mple.com')).toMatchObject({ problem: expect.stringMatching(/is not a URL/) });
  });
});

describe('--url pasted from the browser, resolved', () => {
  it('runs against the origin with a warning naming what was dropped', () => {
    const { config, warnings } = resolveConfig({ flags: { url: 'https://acme.service-now.com/now/nav/ui/classic/params/target/incident_list.do', table: 'incident' } });
    expect(config.url).toBe('https://acme.service-now.com');
    expect(warnings).toEqual([
      "--url: using https://acme.service-now.com: /now/nav/ui/classic/params/target/incident_list.do is a page of the instance's web UI, not part of its address",
    ]);
    const listed = resolveConfig({ flags: { table: 'incident' }, env: { url: 'https://acme.service-now.com/incident_list.do?sysparm_query=active%3Dtrue' } });
    expect(listed.warnings).toEqual([
      "--url (from the environment): using https://acme.service-now.com: /incident_list.do?sysparm_query=active%3Dtrue is a page of the instance's web UI, not part of its address; to export only that page's rows, add --query 'active=true'",
    ]);
  });

  it('says nothing for a plain instance URL or a gateway prefix', () => {
    expect(resolveConfig({ flags: { url: 'https://acme.service-now.com', table: 'incident' } }).warnings).toEqual([]);
    expect(resolveConfig({ flags: { url: 'https://gw.example.com/sn', table: 'incident' } })).toMatchObject({ config: { url: 'https://gw.example.com/sn' }, warnings: [] });
  });
});
