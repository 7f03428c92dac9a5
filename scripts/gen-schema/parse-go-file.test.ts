// Run with: node --import tsx --test scripts/gen-schema/*.test.ts (scripts/ is outside the CI build).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSchemaTable, firstSentence } from './build-schema-table.js';
import { defaultBuildIncludes, parseGoFile, parseStructTag } from './parse-go-file.js';

const SRC = `package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func (in *Thing) helper() { type local struct{ X int }; _ = "}" }

// +genclient

// Thing is a test kind. It has more text.
type Thing struct {
	metav1.TypeMeta \`json:",inline"\`
	// +optional
	metav1.ObjectMeta \`json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"\`
	Spec ThingSpec \`json:"spec" protobuf:"bytes,2,opt,name=spec"\`
}

type (
	Mode string
	// +structType=atomic
	Ref struct {
		Name string \`json:"name" protobuf:"bytes,1,opt,name=name"\`
	}
)

type ThingSpec struct {
	Ref \`json:",inline" protobuf:"bytes,9,opt,name=ref"\`
	// Ports, e.g. http. Merged by port.
	// +listType=map
	// +listMapKey=port
	// +listMapKey=protocol
	Ports []Port \`json:"ports,omitempty" patchStrategy:"merge" patchMergeKey:"port" protobuf:"bytes,2,rep,name=ports"\`
	Target *intstr.IntOrString \`json:"target,omitempty" protobuf:"bytes,3,opt,name=target"\`
	Blob []byte \`json:"blob,omitempty" protobuf:"bytes,4,opt,name=blob"\`
	Labels map[string]Mode \`json:"labels,omitempty" protobuf:"bytes,5,rep,name=labels"\`
	Owner *Ref \`json:"owner" protobuf:"bytes,6,opt,name=owner"\`
	Secret string \`json:"-"\`
}

type Port struct {
	Port int32 \`json:"port" protobuf:"varint,1,opt,name=port"\`
}
`;

const REGISTER = `const GroupName = "example.io"
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1"}
func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion, &Thing{})
	return nil
}`;

const META = `package v1
// TypeMeta describes an object.
type TypeMeta struct {
	Kind string \`json:"kind,omitempty" protobuf:"bytes,1,opt,name=kind"\`
	APIVersion string \`json:"apiVersion,omitempty" protobuf:"bytes,2,opt,name=apiVersion"\`
}
type ObjectMeta struct {
	Name string \`json:"name,omitempty" protobuf:"bytes,1,opt,name=name"\`
}
`;

describe('parseGoFile', () => {
  const file = parseGoFile('thing.go', SRC);

  it('reads imports, type declarations and doc comment blocks, skipping function bodies', () => {
    assert.equal(file.imports.get('metav1'), 'k8s.io/apimachinery/pkg/apis/meta/v1');
    assert.equal(file.imports.get('intstr'), 'k8s.io/apimachinery/pkg/util/intstr');
    assert.deepEqual(file.types.map((t) => t.name), ['Thing', 'Mode', 'Ref', 'ThingSpec', 'Port']);
    const thing = file.types[0];
    assert.deepEqual(thing.doc, [' Thing is a test kind. It has more text.']);
    assert.deepEqual(thing.doc2, [' +genclient']);
    assert.deepEqual(file.types[2].doc, [' +structType=atomic']);
  });

  it('reads embedded and named fields with their tags', () => {
    const thing = file.types[0].type;
    assert.equal(thing.k, 'struct');
    if (thing.k !== 'struct') return;
    assert.deepEqual(thing.fields[0].names, []);
    assert.deepEqual(thing.fields[0].type, { k: 'named', pkg: 'metav1', name: 'TypeMeta' });
    assert.deepEqual(thing.fields[2].names, ['Spec']);
    assert.equal(parseStructTag(thing.fields[2].tag).get('protobuf'), 'bytes,2,opt,name=spec');
  });
});

describe('buildSchemaTable', () => {
  const { table, protoEmbedded } = buildSchemaTable({
    packages: [
      { importPath: 'example.io/api/v1', files: [parseGoFile('thing.go', SRC)], registerSource: REGISTER },
      { importPath: 'k8s.io/apimachinery/pkg/apis/meta/v1', files: [parseGoFile('meta.go', META)] },
    ],
    roots: [{ importPath: 'example.io/api/v1', kinds: ['Thing'] }],
    metaKinds: [],
  });

  it('flattens inline structs, keeps names from JSON tags and sets the gvk', () => {
    const thing = table['io.example.api.v1.Thing'];
    assert.deepEqual(thing.gvk, { group: 'example.io', version: 'v1', kind: 'Thing' });
    assert.deepEqual(thing.fields.map((f) => [f.json, f.proto, f.required]), [
      ['kind', undefined, undefined],
      ['apiVersion', undefined, undefined],
      ['metadata', 1, undefined],
      ['spec', 2, true],
    ]);
    assert.equal(thing.description, 'Thing is a test kind.');
  });

  it('maps types, markers and embeddings', () => {
    const spec = table['io.example.api.v1.ThingSpec'];
    const byName = new Map(spec.fields.map((f) => [f.json, f]));
    assert.deepEqual([...byName.keys()], ['name', 'ports', 'target', 'blob', 'labels', 'owner']);
    assert.equal(byName.get('name')?.proto, undefined);
    assert.deepEqual(protoEmbedded['io.example.api.v1.ThingSpec'], [{ proto: 9, type: 'io.example.api.v1.Ref' }]);
    assert.deepEqual(byName.get('ports'), {
      json: 'ports',
      type: { kind: 'array', items: { kind: 'ref', name: 'io.example.api.v1.Port' } },
      proto: 2,
      patchStrategy: 'merge',
      patchMergeKey: 'port',
      listType: 'map',
      listMapKeys: ['port', 'protocol'],
      description: 'Ports, e.g. http.',
    });
    assert.deepEqual(byName.get('target')?.type, { kind: 'scalar', scalar: 'intOrString' });
    assert.deepEqual(byName.get('blob')?.type, { kind: 'scalar', scalar: 'bytes' });
    assert.deepEqual(byName.get('labels')?.type, { kind: 'map', values: { kind: 'scalar', scalar: 'string' } });
    // A pointer without omitempty is required (as openapi-gen decides); the atomic struct stays atomic.
    assert.equal(byName.get('owner')?.required, true);
    assert.equal(byName.get('owner')?.mapType, 'atomic');
    assert.ok(table['io.example.api.v1.Ref'], 'the embedded type is kept for protobuf decoding');
  });
});

describe('helpers', () => {
  it('cuts descriptions at the first sentence, ignoring markers and text after ---', () => {
    assert.equal(firstSentence([' Name of the thing, i.e. its key. More.', ' +optional']), 'Name of the thing, i.e. its key.');
    assert.equal(firstSentence([' Hidden part follows', ' ---', ' TODO: secret.']), 'Hidden part follows');
    assert.equal(firstSentence([' +optional']), undefined);
    assert.ok(firstSentence([`${'word '.repeat(80)}end.`])!.length <= 200);
  });

  it('evaluates build constraints for a default linux build', () => {
    assert.equal(defaultBuildIncludes('!fieldsv1string'), true);
    assert.equal(defaultBuildIncludes('fieldsv1string'), false);
    assert.equal(defaultBuildIncludes('linux && (amd64 || arm64)'), true);
    assert.equal(defaultBuildIncludes('windows || !go1.21'), false);
  });
});
