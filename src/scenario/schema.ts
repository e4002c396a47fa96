/**
 * The JSON Schema of scenario files, generated from the same field definitions the loader uses,
 * so editors (YAML language server) can complete and check them.
 */
import { OPS } from './registry.js';
import { objectSchema } from './fields.js';
import { deviceSpec, iommuSpec, kernelSpec, processSpec } from './load.js';

export function scenarioJsonSchema(): Record<string, unknown> {
  const stepVariants = Object.entries(OPS).map(([name, def]) => ({
    type: 'object',
    description: def.doc,
    required: [name],
    properties: {
      [name]: objectSchema(def.fields, def.doc),
      expect: { type: 'object', description: 'ret, errno, locked_vm, VmLck, pinned, dma_avail, fatal, warnings, klog, or any returned field' },
      process: { type: 'string', description: 'process that runs the step (default: the first)' },
      note: { type: 'string' },
    },
    additionalProperties: false,
  }));
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://vfiolab.dev/schema/scenario.json',
    title: 'vfiolab scenario',
    type: 'object',
    required: ['name'],
    properties: {
      name: { type: 'string' },
      description: { type: 'string' },
      tags: { type: 'array', items: { type: 'string' } },
      kernel: objectSchema(kernelSpec, 'kernel profile and module parameters'),
      host: {
        type: 'object',
        properties: {
          processes: { type: 'array', items: objectSchema(processSpec, 'a process') },
          devices: { type: 'array', items: objectSchema(deviceSpec, 'a PCI device') },
          iommu: objectSchema(iommuSpec, 'the platform IOMMU'),
          mdev: { type: 'object', description: 'mediated-device parents and instances' },
        },
        additionalProperties: false,
      },
      steps: { type: 'array', items: { oneOf: stepVariants } },
      threads: { type: 'object', description: 'concurrent threads (vfiolab explore)' },
      explore: { type: 'object', description: 'exploration bounds and invariants' },
      mdev: { type: 'object' },
    },
    additionalProperties: false,
  };
}
