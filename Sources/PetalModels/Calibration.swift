import PetalCore
import PetalLayers

/// What the calibration images make one float tensor do: its exact minimum and maximum and a
/// fixed-stride sample of its values (for percentiles), gathered in a fixed order so that
/// the same images give the same scales.
struct ActivationStatistics {
    var minimum = Float.infinity
    var maximum = -Float.infinity
    var sample: [Float] = []

    /// Values kept per tensor over all batches, enough for a 99.99th percentile.
    static let sampleSize = 200_000

    mutating func add(_ values: [Float], batches: Int) {
        for v in values {
            minimum = min(minimum, v)
            maximum = max(maximum, v)
        }
        let stride = max(1, values.count / max(1, Self.sampleSize / max(1, batches)))
        for i in Swift.stride(from: 0, to: values.count, by: stride) { sample.append(abs(values[i])) }
    }

    /// u8 when no value was negative (after ReLU), else symmetric s8; the range by `method`.
    func type(_ method: CalibrationMethod) -> QuantizedType {
        let signed = minimum < 0
        var range = max(abs(minimum), abs(maximum))
        if method == .percentile, !sample.isEmpty {
            let sorted = sample.sorted()
            range = min(range, sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.9999).rounded(.down)))])
        }
        guard range.isFinite, range > 0 else { return QuantizedType(signed ? .int8 : .uint8, scale: 1) }
        return QuantizedType(signed ? .int8 : .uint8, scale: range / (signed ? 127 : 255))
    }

    /// Runs the float network layer by layer (no folding) on each batch, gathering the
    /// statistics of every value the plan's steps read or produce.
    static func collect(_ plan: QuantizationPlan, _ batches: [Tensor]) throws -> [Int: ActivationStatistics] {
        let nodes = plan.network.nodes
        let wanted = plan.values
        var lastUse = Array(nodes.indices)
        for (i, node) in nodes.enumerated() { for s in node.inputs { lastUse[s] = max(lastUse[s], i) } }
        var statistics: [Int: ActivationStatistics] = [:]
        for batch in batches {
            var outputs = [Tensor?](repeating: nil, count: nodes.count)
            outputs[0] = batch
            for i in nodes.indices {
                if i > 0 { outputs[i] = try nodes[i].layer.infer(nodes[i].inputs.map { outputs[$0]! }) }
                if wanted.contains(i) {
                    let values = try outputs[i]!.toArray()
                    statistics[i, default: ActivationStatistics()].add(values, batches: batches.count)
                }
                for s in nodes[i].inputs where lastUse[s] == i { outputs[s] = nil }
            }
        }
        return statistics
    }
}
