/** The instance's base URL, or why the text given is not one. */
export type InstanceUrl = { url: string; dropped?: DroppedPath } | { problem: string };

/** The part of a URL pasted from the browser that is a page of the instance, not its address. */
export interface DroppedPath {
  path: string;
  /** The page's `sysparm_query`, decoded, when it had one: what the user probably meant to export. */
  query?: string;
}

/**
 * Whether a path segment starts a page of ServiceNow's web UI (or its REST API) rather than a
 * prefix under which a gateway serves the instance: `/now/…` (Next Experience), `*.do` (classic
 * UI pages, `nav_to.do`), `/$…` (UI pages such as `$pa_dashboard.do`), `/api/now/…`.
 */
function startsUiPath(segments: string[], i: number): boolean {
  const s = segments[i]!;
  return s === 'now' || /\.do$/i.test(s) || s.startsWith('$') || (s === 'api' && segments[i + 1] === 'now');
}

/**
 * Parses `--url`: a scheme is optional (https is assumed); a path that is clearly a UI page
 * (pasted from the browser's address bar) is dropped and reported, so the requests go to the
 * instance's API rather than to a page; any other path is kept as the prefix of an instance
 * served behind a gateway.
 */
export function parseInstanceUrl(text: string): InstanceUrl {
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    return { problem: `"${text}" is not a URL: use https://<instance>.service-now.com` };
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return { problem: `unsupported protocol ${u.protocol} (use https://)` };
  if (u.username || u.password) {
    return { problem: 'do not put credentials in the URL: use --user and --password (or SERVICENOW_USER / SERVICENOW_PASSWORD)' };
  }
  const segments = u.pathname.split('/');
  const at = segments.findIndex((_, i) => i > 0 && startsUiPath(segments, i));
  if (at < 0) return { url: `${u.origin}${u.pathname.replace(/\/+$/, '')}` };
  const base = segments.slice(0, at).join('/').replace(/\/+$/, '');
  // A list's query usually ends in its sort order, which nowpipe sets itself.
  const query = (u.searchParams.get('sysparm_query') ?? '')
    .split('^')
    .filter((part) => part !== '' && !/^ORDERBY/.test(part))
    .join('^');
  return { url: `${u.origin}${base}`, dropped: { path: `/${segments.slice(at).join('/')}${u.search}${u.hash}`, query: query || undefined } };
}

/** The warning for a URL whose UI path was dropped. */
export function droppedPathWarning(url: string, dropped: DroppedPath): string {
  const path = dropped.path.length > 80 ? `${dropped.path.slice(0, 77)}…` : dropped.path;
  const hint = dropped.query ? `; to export only that page's rows, add --query '${dropped.query}'` : '';
  return `using ${url}: ${path} is a page of the instance's web UI, not part of its address${hint}`;
}

/**
 * A URL's password as written and as meant: percent-decoded when it decodes (a bare `%`, as in
 * `50%off`, does not: then as written only). Both are secrets to mask.
 */
export function passwordForms(password: string): string[] {
  if (password === '') return [];
  try {
    const decoded = decodeURIComponent(password);
    return decoded === password ? [password] : [password, decoded];
  } catch {
    return [password];
  }
}
