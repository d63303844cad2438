local kap = import 'lib/kapitan.libjsonnet';
local h = import 'lib/helpers.libsonnet';
local inv = kap.inventory();
local p = inv.parameters;
local target = std.extVar('target');
local schema = { type: 'object', properties: { port: { type: 'integer' } }, required: ['port'] };

{
  deployment: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: target, labels: h.labels(target) },
    spec: { replicas: p.app.replicas },
  },
  'nested/dir/service': {
    kind: 'Service',
    spec: { ports: [{ port: p.app.port }] },
  },
  'dotted.name': { motd: p.app.motd },
  callbacks: {
    yaml_load: std.parseJson(kap.yaml_load('files/pod.yml')),
    yaml_load_raw: kap.yaml_load('files/pod.yml'),
    yaml_load_stream: std.parseJson(kap.yaml_load_stream('files/stream.yaml')),
    yaml_dump: kap.yaml_dump({ b: [1, 2], a: 'x' }),
    yaml_dump_stream: kap.yaml_dump_stream([{ a: 1 }, { b: 2 }]),
    file_read: kap.file_read('files/conf/app.properties'),
    file_exists: kap.file_exists('files/pod.yml').exists,
    file_missing: kap.file_exists('files/nope.yml'),
    dir_files_list: std.sort(kap.dir_files_list('files/conf')),
    dir_files_read: kap.dir_files_read('files/conf'),
    sha256: kap.sha256('hello'),
    sha256_obj: kap.sha256({ a: 1 }),
    gzip_b64: kap.gzip_b64('hello world'),
    schema_ok: kap.jsonschema(p.app, schema).valid,
    schema_bad: kap.jsonschema({ port: 'x' }, schema).valid,
    jinja2: kap.jinja2_template('templates/motd.j2', { name: target, ports: [1, 2] }),
    classes: inv.classes,
    all_targets: std.objectFields(kap.inventory_global()),
    other_port: kap.inventory('worker').parameters.app.port,
  },
}
