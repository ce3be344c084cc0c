/**
 * The Dockerfile `Manifests.dockerfile()` writes, run without a container runtime (none on these
 * machines): each stage in a folder of its own, its COPY and RUN steps done there
 * (test/support/dockerfile.ts), then the final stage's CMD. A project with a production and a
 * development dependency (local packages): the image's folder gets the built dist/ and the
 * production dependency only, never the sources, and its CMD runs dist/.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Manifests from "../../src/Manifests.ts"
import { env } from "../../scripts/pack.ts"
import { build } from "../support/dockerfile.ts"

const write = (file: string, text: string) => {
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  Fs.writeFileSync(file, text)
}

describe("Manifests.dockerfile, its steps run in a temporary folder", () => {
  it("the runtime stage holds dist/ and the production dependencies only; its CMD runs the built code", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-dockerfile-"))
    try {
      const project = Path.join(dir, "project")
      // two local packages stand for the registry's: one needed at run time, one only to build
      for (const name of ["runtime-dep", "build-dep"]) {
        write(Path.join(dir, "packages", name, "package.json"), JSON.stringify({ name, version: "1.0.0", main: "index.js" }))
        write(Path.join(dir, "packages", name, "index.js"), `module.exports = ${JSON.stringify(name)}\n`)
      }
      const pack = (name: string) => {
        const out = ChildProcess.spawnSync("npm", ["pack", "--silent", Path.join(dir, "packages", name)], { cwd: dir, env: env(), encoding: "utf8" })
        assert.strictEqual(out.status, 0, out.stderr)
        return Path.join(dir, out.stdout.trim())
      }
      const [runtimeDep, buildDep] = [pack("runtime-dep"), pack("build-dep")]
      write(Path.join(project, "package.json"), JSON.stringify({
        name: "demo-operator",
        version: "1.0.0",
        private: true,
        type: "module",
        // the "compiler": the build dependency is needed here only
        scripts: { build: "node -e \"require('build-dep'); const fs = require('fs'); fs.mkdirSync('dist', { recursive: true }); fs.copyFileSync('src/main.js', 'dist/main.js')\"" },
        dependencies: { "runtime-dep": `file:${runtimeDep}` },
        devDependencies: { "build-dep": `file:${buildDep}` }
      }, null, 2))
      write(
        Path.join(project, "src", "main.js"),
        `import { createRequire } from "node:module"\nimport * as Fs from "node:fs"\nconst require = createRequire(import.meta.url)\n` +
          `console.log(JSON.stringify({ dep: require("runtime-dep"), env: process.env.NODE_ENV, sources: Fs.existsSync("src"), buildDep: Fs.existsSync("node_modules/build-dep") }))\n`
      )
      const locked = ChildProcess.spawnSync("npm", ["install", "--package-lock-only", "--offline"], { cwd: project, env: env(), encoding: "utf8" })
      assert.strictEqual(locked.status, 0, locked.stderr)
      write(Path.join(project, "Dockerfile"), Manifests.dockerfile())
      write(Path.join(project, ".dockerignore"), Manifests.dockerignore)

      const image = build(Path.join(project, "Dockerfile"), project, Path.join(dir, "image"), { runEnv: { npm_config_offline: "true" } })
      assert.deepStrictEqual(image.runs.map((r) => r.stage), ["build", "build", "1"])
      assert.include(image.runs.at(-1)!.command, "npm ci --omit=dev")
      assert.strictEqual(image.user, "node")
      assert.deepStrictEqual(image.cmd, ["node", "dist/main.js"])
      assert.deepStrictEqual(Fs.readdirSync(image.dir).sort(), ["dist", "node_modules", "package-lock.json", "package.json"])
      const ran = ChildProcess.spawnSync(process.execPath, image.cmd.slice(1), { cwd: image.dir, env: env(image.env), encoding: "utf8" })
      assert.strictEqual(ran.status, 0, ran.stderr)
      assert.deepStrictEqual(JSON.parse(ran.stdout), { dep: "runtime-dep", env: "production", sources: false, buildDep: false })
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
