// What the two browser checks (checks/card_host, checks/library_host) share: the tally of ok/FAIL
// lines, a work folder, Python children whose output goes to a log each, and the ending that
// prints the logs when the check broke off, stops the children and exits with the verdict.
// Node's own modules only: each check's folder holds its own node_modules.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function browserCheck(name) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-check-`));
  const shots = process.env.SHOTS_DIR || fs.mkdtempSync(path.join(os.tmpdir(), `${name}-shots-`));
  const python = process.env.PYTHON || "python3";
  const children = [];
  let passes = 0;
  let failures = 0;
  const ok = (what) => { passes++; console.log(`ok   ${what}`); };
  const bad = (what, detail) => { failures++; console.log(`FAIL ${what}${detail ? `: ${detail}` : ""}`); };
  const check = (cond, what, detail) => (cond ? ok(what) : bad(what, detail));

  // A Python child with the given environment (and folder); stdout and stderr go to <work>/<label>.log.
  function start(label, args, env, cwd) {
    const child = spawn(python, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    const logPath = path.join(work, `${label}.log`);
    const out = fs.createWriteStream(logPath);
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    children.push(child);
    child.logPath = logPath;
    return child;
  }
  const logOf = (child) => (fs.existsSync(child.logPath) ? fs.readFileSync(child.logPath, "utf8") : "");

  async function run(main) {
    try {
      await main();
    } catch (error) {
      bad("the check ran to its end", error.stack || String(error));
      for (const child of children) {
        if (fs.existsSync(child.logPath)) console.log(`--- ${path.basename(child.logPath)}\n${logOf(child).slice(-3000)}`);
      }
    } finally {
      for (const child of children) child.kill("SIGTERM");
    }
    console.log(`\ncheck-${name}: ${passes} passed, ${failures} failed; screenshots in ${shots}`);
    if (!process.env.KEEP_WORK) fs.rmSync(work, { recursive: true, force: true });
    process.exit(failures ? 1 : 0);
  }

  return { work, shots, python, ok, bad, check, start, logOf, run };
}
