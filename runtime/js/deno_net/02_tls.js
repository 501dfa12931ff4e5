// Stands in for Deno's `ext:deno_net/02_tls.js`, which deno_fetch loads for
// `Deno.createHttpClient`. Workers have no Deno namespace, so client TLS
// keys are never needed.
(function () {
  function loadTlsKeyPair() {
    throw new TypeError("custom TLS client keys are not available in Brink workers");
  }
  return { loadTlsKeyPair };
})();
