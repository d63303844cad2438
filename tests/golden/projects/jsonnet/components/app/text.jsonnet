local kap = import 'lib/kapitan.libjsonnet';
{
  'README.md': 'Target %s\nport %d\n' % [std.extVar('target'), kap.inventory().parameters.app.port],
}
