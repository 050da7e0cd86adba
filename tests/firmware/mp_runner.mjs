// Runs Python under real MicroPython (the official WebAssembly port, from npm) with files
// copied into its virtual filesystem, so packages import as they would on a board.
//
// usage: node mp_runner.mjs PACKAGE_DIR ROOT CODE FILE...
//   PACKAGE_DIR  folder of @micropython/micropython-webassembly-pyscript
//   ROOT         the repository root; each FILE (relative to ROOT) goes to /lib/FILE
//   CODE         Python to run after `sys.path.append('/lib')`
// Prints what MicroPython prints; exits 1 if the code raised.
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { pathToFileURL } from "node:url";

const [packageDir, root, code, ...files] = process.argv.slice(2);
const { loadMicroPython } = await import(pathToFileURL(join(packageDir, "micropython.mjs")).href);
const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
const made = new Set();
function mkdirs(path) {
  if (path === "/" || made.has(path)) return;
  mkdirs(dirname(path));
  try { mp.FS.mkdir(path); } catch (e) { /* exists */ }
  made.add(path);
}
for (const file of files) {
  const target = "/lib/" + file;
  mkdirs(dirname(target));
  mp.FS.writeFile(target, readFileSync(join(root, file)));
}
try {
  mp.runPython("import sys\nsys.path.append('/lib')\n" + code);
} catch (error) {
  process.stderr.write(String(error.message || error) + "\n");
  process.exit(1);
}
