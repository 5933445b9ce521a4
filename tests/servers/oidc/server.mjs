// npm oidc-provider (OpenID Certified) as a real authorization server for authcli's tests, on loopback.
//
//     node tests/servers/oidc/server.mjs
//
// Prints one JSON line once listening: {"url", "clients": {...}}. Not part of authcli: a test fixture.
//
// Refresh tokens are issued to every client allowed the refresh_token grant (no offline_access
// or consent needed) and rotate on every use; presenting a spent one answers invalid_grant and
// revokes the grant. Logins go through oidc-provider's own development interactions (any user
// name and password are accepted), which the tests drive over HTTP with a cookie jar.
//
// Besides the provider's endpoints it serves, for the tests only:
//   GET /_stats                     token endpoint answers counted as "<grant_type>:<status>"
//   GET /_admin/ttl?access=S&device=S&id=S   lifetimes of access tokens, device codes and ID tokens issued from now on
//
// The client authcli-keyjwt authenticates with private_key_jwt (RFC 7523), its keys fetched from
// the URL in OIDC_CLIENT_JWKS_URI: a key authcli signs with, or a "CI issuer"'s.
//
// DPoP (RFC 9449) is on, as in oidc-provider 9 by default; with --require-dpop-nonce every
// token request must carry the provider's DPoP nonce (the first answer is use_dpop_nonce).
import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const ttl = { access: 300, device: 600, id: 3600 };
const stats = {};
const count = (key) => { stats[key] = (stats[key] || 0) + 1; };

const clients = {
  device: { client_id: 'authcli-device', token_endpoint_auth_method: 'none', application_type: 'native',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'], response_types: [],
    redirect_uris: [] },
  browser: { client_id: 'authcli-browser', token_endpoint_auth_method: 'none', application_type: 'native',
    grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'] },
  service: { client_id: 'authcli-service', client_secret: 'service-secret-7f3a', grant_types: ['client_credentials'],
    response_types: [], redirect_uris: [], scope: 'api:read' },
  // private_key_jwt (RFC 7523): keys from a "CI issuer" JWKS the test serves (OIDC_CLIENT_JWKS_URI).
  keyjwt: { client_id: 'authcli-keyjwt', token_endpoint_auth_method: 'private_key_jwt',
    jwks_uri: process.env.OIDC_CLIENT_JWKS_URI || 'http://127.0.0.1:9/unused', application_type: 'native',
    grant_types: ['client_credentials', 'urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [], redirect_uris: [], scope: 'openid offline_access email profile api:read' },
  // The resource server's own credentials, for token introspection.
  api: { client_id: 'resource-api', client_secret: 'resource-api-secret-91c2', grant_types: [], response_types: [],
    redirect_uris: [] },
};

const configuration = {
  clients: Object.values(clients),
  scopes: ['openid', 'offline_access', 'email', 'profile', 'api:read'],
  claims: { email: ['email', 'email_verified'], profile: ['name'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.com`, email_verified: true, name: id[0].toUpperCase() + id.slice(1) };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    dPoP: process.argv.includes('--require-dpop-nonce')
      ? { enabled: true, nonceSecret: crypto.randomBytes(32), requireNonce: () => true }
      : { enabled: true },
  },
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  rotateRefreshToken: true,
  // The ID token carries the profile and email claims itself, so whoami can show them.
  conformIdTokenClaims: false,
  ttl: {
    AccessToken: () => ttl.access,
    ClientCredentials: () => ttl.access,
    DeviceCode: () => ttl.device,
    IdToken: () => ttl.id,
    RefreshToken: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
    Session: 24 * 3600,
    Interaction: 3600,
  },
  pkce: { required: () => true },
  // The test's JWKS (jwks_uri) is on loopback, which the provider's SSRF guard (a dispatcher that
  // refuses special-use addresses) would refuse: fetch without that guard, for this fixture only.
  fetch: (url, options) => { const { dispatcher, ...rest } = options; return globalThis.fetch(url, rest); },
};

function admin(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  let body;
  if (url.pathname === '/_stats') {
    body = stats;
  } else if (url.pathname === '/_admin/ttl') {
    for (const key of ['access', 'device', 'id']) {
      if (url.searchParams.has(key)) ttl[key] = Number(url.searchParams.get(key));
    }
    body = ttl;
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

let callback;
const server = http.createServer((req, res) => (req.url.startsWith('/_') ? admin(req, res) : callback(req, res)));
server.listen(0, '127.0.0.1', () => {
  // The issuer names the port, so the provider is made once the port is known.
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  provider.on('grant.success', (ctx) => count(`${ctx.oidc.params.grant_type}:200`));
  provider.on('grant.success', (ctx) => { if (ctx.get('dpop')) count('dpop'); });
  provider.on('grant.error', (ctx, err) => count(`${ctx.oidc.params?.grant_type}:${err.statusCode || 500}`));
  provider.on('grant.error', (ctx, err) => count(`error:${err.error}`));
  provider.on('grant.revoked', () => count('grant.revoked'));
  if (process.env.OIDC_DEBUG) provider.on('grant.error', (ctx, err) => console.error(err, err.error_detail, err.cause));
  callback = provider.callback();
  process.stdout.write(`${JSON.stringify({ url: issuer, clients })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
