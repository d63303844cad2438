{
  config: { name: std.extVar('target'), empty: {}, none: null, list: [], keep: 0, sub: { gone: null } },
}
