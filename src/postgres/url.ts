// PostgreSQL connection URLs: which values are one, and how messages show one (without its password).

/** True for PostgreSQL's URLs: postgres://… and postgresql://…. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The URL without its password or query (which may hold one: ?password=…), as messages show it. */
export function displayPostgresUrl(url: string): string {
  const withoutQuery = url.replace(/[?#].*$/, "");
  const schemeEnd = withoutQuery.indexOf("://");
  const at = withoutQuery.lastIndexOf("@");
  if (schemeEnd === -1 || at < schemeEnd) return withoutQuery;
  const userinfo = withoutQuery.slice(schemeEnd + 3, at);
  const colon = userinfo.indexOf(":");
  const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
  return `${withoutQuery.slice(0, schemeEnd + 3)}${user}@${withoutQuery.slice(at + 1)}`;
}
