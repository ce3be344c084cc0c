/**
 * scripts/envtest-assets.sh, the provisioning that `npm test`, `npm start` and `npm run
 * envtest:assets` all run (stderr passed through), end to end in a throw-away cache with stand-ins
 * for apt-get, go and make: the real build takes 5 to 15 minutes, the stand-in build a few seconds,
 * printing Go's -v package lines as the real one does. What is checked is the script's own
 * behaviour: a progress line at least every OPERATORKIT_PROGRESS_SECONDS (15 by default) with the
 * phase, the time spent and the packages compiled so far; and, when it cannot run, the exact
 * setup-envtest command line.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"

const script = Path.resolve(import.meta.dirname, "..", "..", "scripts", "envtest-assets.sh")

const fake = (dir: string, name: string, body: string) =>
  Fs.writeFileSync(Path.join(dir, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 })

const PACKAGES = 12

/** A throw-away cache and PATH with stand-ins; runs the script and returns its output. */
const provision = (options: { readonly user?: string; readonly interval: number }) =>
  Effect.acquireUseRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-provision-"))),
    (tmp) =>
      Effect.callback<{ status: number | null; stdout: string; stderr: string; tmp: string; binaries: Array<string> }>((resume) => {
        const bin = Path.join(tmp, "bin")
        Fs.mkdirSync(bin)
        const stub = (version: string) => `#!/usr/bin/env bash\\necho "Kubernetes v${version}"`
        fake(bin, "apt-get", `
case "$1" in
  update|install) echo "apt-get $1: ok"; sleep 0.3 ;;
  source)
    mkdir -p kubernetes-1.20.2/cmd/kube-apiserver kubernetes-1.20.2/vendor/github.com/modern-go/reflect2
    tar -czf kubernetes_1.20.5+really1.20.2.orig.tar.gz kubernetes-1.20.2 && rm -rf kubernetes-1.20.2 ;;
esac`)
        fake(bin, "rsync", `mkdir -p "\${@: -1}"`)
        fake(bin, "go", `echo "go version go1.19.8 linux/amd64"`)
        // a build that takes a few seconds, printing what 'go build -v' prints: one package per line
        fake(bin, "make", `
case " $GOFLAGS " in *" -v "*) ;; *) echo "GOFLAGS has no -v: progress could not be counted" >&2; exit 3 ;; esac
echo "+++ [1203 05:00:00] Building go targets for linux/amd64:"
echo "    cmd/kube-apiserver"
for i in $(seq 1 ${PACKAGES}); do echo "k8s.io/kubernetes/vendor/k8s.io/api/group$i/v1"; sleep 0.3; done
mkdir -p _output/bin
printf '${stub("1.20.2")}\\n' > _output/bin/kube-apiserver
printf '${stub("1.20.2")}\\n' > _output/bin/kube-controller-manager`)
        fake(bin, "etcd", `echo "etcd Version: 3.4.23"`)
        if (options.user !== undefined) fake(bin, "id", `case "$1" in -u) echo 1000 ;; -un) echo ${options.user} ;; esac`)
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          PATH: `${bin}${Path.delimiter}${process.env["PATH"]}`,
          OPERATORKIT_CACHE: Path.join(tmp, "cache"),
          OPERATORKIT_PROGRESS_SECONDS: String(options.interval),
          OPERATORKIT_APT_SOURCES_DIR: Path.join(tmp, "sources"),
          OPERATORKIT_ETCD_BIN: Path.join(bin, "etcd")
        }
        delete env["KUBEBUILDER_ASSETS"]
        Fs.mkdirSync(Path.join(tmp, "sources"))
        const child = ChildProcess.spawn("bash", [script], { env, stdio: ["ignore", "pipe", "pipe"] })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()))
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
        // what the cache holds afterwards (the folder goes when this effect ends)
        const dest = Path.join(tmp, "cache", "envtest", "1.20.2")
        child.once("exit", (status) =>
          resume(Effect.succeed({ status, stdout, stderr, tmp, binaries: Fs.existsSync(dest) ? Fs.readdirSync(dest).sort() : [] })))
        return Effect.sync(() => child.kill("SIGKILL"))
      }),
    (tmp) => Effect.sync(() => Fs.rmSync(tmp, { recursive: true, force: true }))
  )

describe("scripts/envtest-assets.sh", () => {
  it.live("reports the build's progress at least every interval: phase, time in it, packages compiled so far", () =>
    Effect.gen(function*() {
      const run = yield* provision({ interval: 1 })
      assert.strictEqual(run.status, 0, run.stderr)
      const dest = Path.join(run.tmp, "cache", "envtest", "1.20.2")
      assert.strictEqual(run.stdout.trim().split("\n").at(-1), dest)
      const progress = run.stderr.split("\n")
        .map((line) => /\] building kube-apiserver and kube-controller-manager: (\d+)m(\d\d)s in this phase, (\d+) packages compiled so far$/.exec(line))
        .filter((m) => m !== null)
        .map((m) => ({ seconds: Number(m[1]) * 60 + Number(m[2]), packages: Number(m[3]) }))
      // the stand-in build runs for at least 3.6 s: at least 3 lines at a 1 s interval
      assert.isAtLeast(progress.length, 3, run.stderr)
      for (let i = 1; i < progress.length; i++) {
        // one line per interval: the time in the phase moves by the interval (a second more on a
        // busy machine, as bash counts whole seconds); counts only grow
        assert.include([1, 2], progress[i]!.seconds - progress[i - 1]!.seconds, run.stderr)
        assert.isAtLeast(progress[i]!.packages, progress[i - 1]!.packages)
      }
      assert.isAbove(progress.at(-1)!.packages, 0)
      assert.isBelow(progress[0]!.packages, PACKAGES)
      assert.include(run.stderr, `built: ${PACKAGES} packages compiled`)
      assert.deepStrictEqual(run.binaries, [".complete", "etcd", "kube-apiserver", "kube-controller-manager"])
    }))

  it.live("not root: says exactly how to get binaries instead, with the setup-envtest command line", () =>
    Effect.gen(function*() {
      const run = yield* provision({ user: "ada", interval: 15 })
      assert.strictEqual(run.status, 1)
      assert.include(run.stderr, "cannot provision the control plane here: it must run as root to install Debian packages (running as ada)")
      assert.include(
        run.stderr,
        'export KUBEBUILDER_ASSETS="$(go run sigs.k8s.io/controller-runtime/tools/setup-envtest@latest use -p path 1.37.x)"'
      )
      assert.strictEqual(run.stdout, "")
    }))
})
