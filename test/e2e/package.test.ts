import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

interface PackJson {
  files: Array<{ path: string }>;
}

/**
 * What `npm pack` would put in the tarball, from the dist/ that `npm test` just built.
 * --ignore-scripts: the real pack rebuilds dist/ (prepack), which would pull it from under the
 * other tests running beside this one.
 */
async function packedFiles(): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
  const [pack] = JSON.parse(stdout) as PackJson[];
  return pack!.files.map((f) => f.path).sort();
}

let scratch: string | undefined;
afterEach(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

describe('the npm package', () => {
  it('holds the licence, the README, the examples it links to, the built CLI, and nothing from the source tree', async () => {
    const files = await packedFiles();
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'bin/nowpipe.js', 'dist/cli/main.js']));
    // demo runs the simulator: it is in the bundle (a chunk loaded only by demo), not apart.
    expect(files.some((f) => f.startsWith('dist/sim/'))).toBe(false);
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const linked = [...readme.matchAll(/\]\((examples\/[^)#\s]+)\)/g)].map((m) => m[1]!);
    expect(linked.length).toBeGreaterThan(0);
    for (const link of linked) expect(files, `README links to ${link}`).toContain(link);
    expect(files.filter((f) => !/^(bin|dist|examples)\/|^(LICENSE|README\.md|package\.json)$/.test(f))).toEqual([]);
    expect(await readFile(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });

  it('ships no source map, and no compiled file points at one', async () => {
    const files = await packedFiles();
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    for (const f of files.filter((p) => p.endsWith('.js'))) {
      expect(await readFile(join(ROOT, f), 'utf8'), f).not.toContain('sourceMappingURL');
    }
  });

  it('ships the bundled CLI and no stale compiled file: every dist/ file comes from a file in src/ or is a chunk of the bundle', async () => {
    const files = await packedFiles();
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('dist/cli/producer-worker.js'); // the Kafka producer's worker, started by URL
    expect(files.filter((p) => p.startsWith('dist/') && !p.startsWith('dist/cli/'))).toEqual([]);
    const orphans: string[] = [];
    const chunk = /^dist\/cli\/chunk-[A-Z0-9]+\.js$/;
    for (const f of files.filter((p) => p.startsWith('dist/') && !chunk.test(p))) {
      if (f === 'dist/cli/producer-worker.js') continue;
      const source = join(ROOT, f.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'));
      if (!(await readFile(source).then(() => true, () => false))) orphans.push(f);
    }
    expect(orphans).toEqual([]);
  });

  it('package.json: where it lives, and no script that runs when someone installs it', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown> & { scripts: Record<string, string> };
    expect(pkg.license).toBe('MIT');
    expect(pkg.homepage).toBe('https://github.com/nowpipe/nowpipe#readme');
    expect(pkg.bugs).toEqual({ url: 'https://github.com/nowpipe/nowpipe/issues' });
    expect(pkg.repository).toEqual({ type: 'git', url: 'git+https://github.com/nowpipe/nowpipe.git' });
    // npm runs these when the package is installed (prepare: from git or a folder; npm 11 warns
    // about it even for a tarball). The build runs on prepack instead: npm pack and npm publish.
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(pkg.scripts, hook).not.toHaveProperty(hook);
    expect(pkg.scripts.prepack).toBe('npm run build');
  });

  it('bin/nowpipe.js in a copy that was never built says how to build it, without a stack trace', async () => {
    scratch = await tempDir();
    await mkdir(join(scratch, 'bin'));
    await cp(join(ROOT, 'bin/nowpipe.js'), join(scratch, 'bin/nowpipe.js'));
    await writeFile(join(scratch, 'package.json'), '{"type":"module"}');
    const res = await run(process.execPath, [join(scratch, 'bin/nowpipe.js'), 'demo']).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toBe('error: nowpipe cannot start: it is not built\nhint: in a clone, run: npm install && npm run build\n');
  });
});
