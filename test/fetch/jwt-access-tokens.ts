/**
 * oidc-provider's resource indicators set so that every token is a JWT for `audience` (ES256, one
 * minute): the resource servers of the DPoP and mutual-TLS tests read its `cnf` binding.
 */
export function jwtAccessTokensFor(audience: string) {
  return {
    enabled: true,
    defaultResource: () => audience,
    useGrantedResource: () => true,
    getResourceServerInfo: () => ({ scope: '', audience, accessTokenTTL: 60, accessTokenFormat: 'jwt' as const, jwt: { sign: { alg: 'ES256' as const } } }),
  };
}
