/**
 * The proxy decision for the environment, with Go's rules (cases from golang.org/x/net/http/httpproxy's
 * own tests), and the tunnels through http and SOCKS5 proxies.
 */
import { assert, describe, it } from "@effect/vitest"
import { proxyFor, proxyFromEnvironment } from "../../src/internal/http/proxy.ts"

const shown = (u: URL | undefined) => (u === undefined ? "<nil>" : `${u.protocol}//${u.host}`)

describe("proxyFromEnvironment (Go's http.ProxyFromEnvironment)", () => {
  const cases: ReadonlyArray<readonly [env: Record<string, string>, req: string, want: string]> = [
    [{ HTTP_PROXY: "127.0.0.1:8080" }, "http://example.com", "http://127.0.0.1:8080"],
    [{ HTTP_PROXY: "cache.corp.example.com:1234" }, "http://example.com", "http://cache.corp.example.com:1234"],
    [{ HTTP_PROXY: "cache.corp.example.com" }, "http://example.com", "http://cache.corp.example.com"],
    [{ HTTP_PROXY: "localhost" }, "http://example.com", "http://localhost"],
    [{ HTTP_PROXY: "https://cache.corp.example.com" }, "http://example.com", "https://cache.corp.example.com"],
    [{ HTTP_PROXY: "http://127.0.0.1:8080" }, "http://example.com", "http://127.0.0.1:8080"],
    [{ HTTP_PROXY: "https://127.0.0.1:8080" }, "http://example.com", "https://127.0.0.1:8080"],
    [{ HTTP_PROXY: "socks5://127.0.0.1" }, "http://example.com", "socks5://127.0.0.1"],
    [{ HTTP_PROXY: "foo://host" }, "http://example.com", "foo://host"],
    // the https proxy for https, the http one for http
    [{ HTTP_PROXY: "http.proxy.tld", HTTPS_PROXY: "secure.proxy.tld" }, "http://insecure.tld/", "http://http.proxy.tld"],
    [{ HTTP_PROXY: "http.proxy.tld", HTTPS_PROXY: "secure.proxy.tld" }, "https://secure.tld/", "http://secure.proxy.tld"],
    [{ HTTP_PROXY: "http.proxy.tld", HTTPS_PROXY: "https://secure.proxy.tld" }, "https://secure.tld/", "https://secure.proxy.tld"],
    [{ HTTP_PROXY: "http.proxy.tld" }, "https://secure.tld/", "<nil>"],
    [{ HTTP_PROXY: "http.proxy.tld" }, "ftp://insecure.tld/", "<nil>"],
    // HTTP_PROXY is attacker-controlled in a CGI environment; HTTPS_PROXY is still used
    [{ HTTP_PROXY: "http://10.1.2.3:8080", REQUEST_METHOD: "GET" }, "http://example.com", "<nil>"],
    [{ HTTPS_PROXY: "https://secure.proxy.tld", REQUEST_METHOD: "GET" }, "https://secure.tld/", "https://secure.proxy.tld"],
    [{}, "http://example.com", "<nil>"],
    [{ NO_PROXY: "example.com", HTTP_PROXY: "proxy" }, "http://example.com/", "<nil>"],
    [{ NO_PROXY: ".example.com", HTTP_PROXY: "proxy" }, "http://example.com/", "http://proxy"],
    [{ NO_PROXY: "ample.com", HTTP_PROXY: "proxy" }, "http://example.com/", "http://proxy"],
    [{ NO_PROXY: "example.com", HTTP_PROXY: "proxy" }, "http://foo.example.com/", "<nil>"],
    [{ NO_PROXY: ".foo.com", HTTP_PROXY: "proxy" }, "http://example.com/", "http://proxy"],
    [{ NO_PROXY: ".示例.com", HTTP_PROXY: "proxy" }, "http://www.示例.com", "<nil>"],
    [{ NO_PROXY: "xn--fsq092h.com", HTTP_PROXY: "proxy" }, "http://www.示例.com", "<nil>"],
    [{ NO_PROXY: "示例.com", HTTP_PROXY: "proxy" }, "http://www.xn--fsq092h.com", "<nil>"],
    // lower-case names, the upper-case one first
    [{ https_proxy: "lower.proxy" }, "https://api.example.com", "http://lower.proxy"],
    [{ HTTPS_PROXY: "upper.proxy", https_proxy: "lower.proxy" }, "https://api.example.com", "http://upper.proxy"],
    [{ HTTPS_PROXY: "proxy", no_proxy: "api.example.com" }, "https://api.example.com:6443", "<nil>"]
  ]
  for (const [env, req, want] of cases) {
    it(`${JSON.stringify(env)} ${req} → ${want}`, () => {
      assert.strictEqual(shown(proxyFromEnvironment(new URL(req), env)), want)
    })
  }

  const noProxy =
    "foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, 10.0.0.0/30, 2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, 2002:db8:a::45/64"
  const useProxy: ReadonlyArray<readonly [host: string, proxied: boolean]> = [
    // loopback never goes through the environment's proxy
    ["localhost", false],
    ["127.0.0.1", false],
    ["127.0.0.2", false],
    ["[::1]", false],
    ["[::2]", true],
    ["192.168.1.1", false],
    ["192.168.1.2", true],
    ["192.168.1.3", false],
    ["192.168.1.4", true],
    ["10.0.0.2", false],
    ["[2001:db8::52:0:1]", false],
    ["[2001:db8::52:0:2]", true],
    ["[2001:db8::52:0:3]", false],
    ["[2002:db8:a::123]", false],
    ["[fe80::424b:c8be:1643:a1b6]", true],
    ["barbaz.net", true],
    ["www.barbaz.net", false],
    ["foobar.com", false],
    ["www.foobar.com", false],
    ["foofoobar.com", true],
    ["baz.com", true],
    ["localhost.net", true],
    ["local.localhost", true],
    ["barbarbaz.net", true],
    ["wildcard.io", true],
    ["nested.wildcard.io", false],
    ["awildcard.io", true]
  ]
  for (const [host, proxied] of useProxy) {
    it(`NO_PROXY (IPs, CIDRs, ports, domains): ${host}:80 ${proxied ? "goes through the proxy" : "goes direct"}`, () => {
      const env = { HTTP_PROXY: "http://proxy.example.org", NO_PROXY: noProxy }
      assert.strictEqual(proxyFromEnvironment(new URL(`http://${host}:80`), env) !== undefined, proxied)
      // NO_PROXY=* sends everything direct
      assert.isUndefined(proxyFromEnvironment(new URL(`http://${host}:80`), { HTTP_PROXY: "proxy", NO_PROXY: "*" }))
    })
  }

  it("a malformed NO_PROXY entry is ignored", () => {
    assert.strictEqual(shown(proxyFromEnvironment(new URL("http://example.com:80"), { HTTP_PROXY: "proxy", NO_PROXY: ":1" })), "http://proxy")
  })

  it("a cluster's proxy-url applies to every server, loopback included, whatever the environment says", () => {
    const env = { HTTPS_PROXY: "env.proxy", NO_PROXY: "*" }
    assert.strictEqual(shown(proxyFor(new URL("https://127.0.0.1:6443"), "http://127.0.0.1:3128", env)), "http://127.0.0.1:3128")
    assert.strictEqual(shown(proxyFor(new URL("https://127.0.0.1:6443"), undefined, { HTTPS_PROXY: "env.proxy" })), "<nil>")
    assert.strictEqual(shown(proxyFor(new URL("https://api.example.com"), undefined, { HTTPS_PROXY: "env.proxy" })), "http://env.proxy")
  })
})
