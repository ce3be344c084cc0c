// A module that writes a file while it is imported.
import * as Fs from "node:fs"

export { GreetingCrd } from "./greeting.ts"

Fs.writeFileSync("written-on-import.txt", "the module wrote this")
