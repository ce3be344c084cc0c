/**
 * Stand-in binaries for versions this machine cannot build: a script that answers `--version` as
 * the given version would, refuses the flags that version does not have (support/releases.ts),
 * records its arguments, and otherwise runs the real binary (1.20.2 / etcd 3.4 here).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { refusedBy } from "./releases.ts"

export type Component = "kube-apiserver" | "kube-controller-manager" | "etcd"

const versionText = (component: Component, version: string) =>
  component === "etcd"
    ? `etcd Version: ${version}\nGit SHA: standin\nGo Version: go1.24.0\nGo OS/Arch: linux/amd64`
    : `Kubernetes v${version}`

/** Writes `dir/<component>` standing in for `version`, running `real` for everything else. */
export const writeStandIn = (dir: string, component: Component, version: string, real: string) => {
  Fs.mkdirSync(dir, { recursive: true })
  const refused = refusedBy(component, version)
  const file = Path.join(dir, component)
  Fs.writeFileSync(
    file,
    `#!/usr/bin/env bash
# stand-in for ${component} ${version}
for a in "$@"; do
  if [ "$a" = "--version" ]; then printf '%s\\n' ${JSON.stringify(versionText(component, version))}; exit 0; fi
done
printf '%s\\n' "$@" > "$0.args"
for a in "$@"; do
  case "\${a%%=*}" in
${refused.map((f) => `    ${f}) echo "Error: unknown flag: ${f} (${component} ${version} has no such flag)" >&2; exit 1 ;;`).join("\n")}
  esac
done
exec ${JSON.stringify(real)} "$@"
`,
    { mode: 0o755 }
  )
  return file
}

/** The arguments the stand-in was last started with. */
export const argsOf = (file: string): Array<string> =>
  Fs.existsSync(`${file}.args`) ? Fs.readFileSync(`${file}.args`, "utf8").split("\n").filter((l) => l !== "") : []
