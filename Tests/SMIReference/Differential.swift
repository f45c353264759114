// The reference side of the differential test, as a library so that the fuzz targets (Fuzz/,
// through SMIFuzzEntries) check decisions against the same reference: random policies
// (PolicyGenerator), written as YAML/JSON in the layout of each object's version
// (PolicyRenderer), random requests (RequestGenerator), and the reference evaluator
// (ReferenceEvaluator, ReferencePathNormalizer), which follows SEMANTICS.md on the generator's own
// description and shares no code with the engine's loader, compiler or runtime.

/// The differential test's helpers.
package enum Differential {}
