/**
 * Provisions the control plane binaries once per run (fast with a warm cache) and, at the end,
 * checks that no etcd or kube-apiserver started by the run is still alive.
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"

// every Envtest of this run puts this tag in its folder name, so other runs are not counted
const tag = `run${process.pid}-`
process.env["OPERATORKIT_ENVTEST_TAG"] = tag

const leftovers = (): Array<string> => {
  const out = ChildProcess.spawnSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).stdout
  return out.split("\n").filter((l) => l.includes(`operatorkit-envtest-${tag}`) && /(etcd|kube-apiserver|kube-controller-manager)/.test(l))
}

export function setup(): void {
  if (process.env["KUBEBUILDER_ASSETS"] === undefined) {
    const script = Path.resolve(import.meta.dirname, "..", "scripts", "envtest-assets.sh")
    const run = ChildProcess.spawnSync("bash", [script], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" })
    if (run.status !== 0) throw new Error(`${script} failed (exit ${run.status}); see its output above`)
    process.env["KUBEBUILDER_ASSETS"] = run.stdout.trim().split("\n").at(-1)
  }
}

export function teardown(): void {
  const left = leftovers()
  if (left.length > 0) {
    throw new Error(`control plane processes left running after the tests:\n${left.join("\n")}`)
  }
}
