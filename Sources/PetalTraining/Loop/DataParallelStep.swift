import Foundation
import PetalCore
import PetalData
import PetalLayers
import PetalModels

/// One process's part in a data-parallel training step, so that N processes with batch B
/// compute what one process computes with batch N·B:
///
/// - gradients: each process's gradient of the mean loss over its share, weighted by its share
///   of the global batch (n / N: exact for equal shares, right for the last, smaller batch),
///   summed over the processes in one flat buffer with one allreduce per step, whatever the
///   layer count;
/// - dropout: each Dropout layer's random stream is set where one process would be at this
///   share's first image, and after the step where it would be after the whole batch, so the
///   masks are one process's masks;
/// - batch-norm statistics trained in phase 2 (`--train-bn-statistics`) come from each process's
///   share (as in PyTorch's DistributedDataParallel without SyncBatchNorm); their moving
///   averages are averaged over the processes in the same buffer, so all hold the same model;
/// - the step's loss sum, correct count and image count are summed (in Double), and Ctrl-C on
///   any process stops all of them after the same batch.
final class DataParallelStep {
    let group: ProcessGroup
    let network: Network
    private var buffer: [Float] = []
    /// Each active Dropout layer, its stream's state at the start of the step, and the values
    /// it draws per image.
    private var dropouts: [(layer: Dropout, start: UInt64, perImage: Int)]

    init(group: ProcessGroup, network: Network) {
        self.group = group
        self.network = network
        dropouts = network.layers.enumerated().compactMap { index, layer in
            guard let dropout = layer as? Dropout, dropout.rate > 0 else { return nil }
            return (dropout, 0, network.outputShape(of: index).dropFirst().reduce(1, *))
        }
    }

    /// SplitMix64's increment per value drawn (`SplitMix64.next`).
    private static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// Before the forward pass of this process's share.
    func begin(_ batch: StepBatch) {
        for k in dropouts.indices {
            let start = dropouts[k].layer.randomState
            dropouts[k].start = start
            let skipped = UInt64(batch.globalOffset * dropouts[k].perImage)
            dropouts[k].layer.randomState = start &+ skipped &* Self.golden
        }
    }

    /// After the backward pass, before the optimizer step: averages the gradients of
    /// `parameters` over the processes, in place, and returns the global batch's loss sum,
    /// correct count and image count.
    func end(_ parameters: [Parameter], batch: StepBatch, loss: Double,
             correct: Int) throws -> (lossSum: Double, correct: Int, count: Int) {
        let local = batch.isPadding ? 0 : batch.count
        let global = batch.globalCount ?? batch.count
        for k in dropouts.indices {
            let drawn = UInt64(global * dropouts[k].perImage)
            dropouts[k].layer.randomState = dropouts[k].start &+ drawn &* Self.golden
        }
        let totals = try group.sum([local > 0 ? loss * Double(local) : 0, Double(local > 0 ? correct : 0),
                                    Double(local), Interrupt.requested ? 1 : 0])
        if totals[3] > 0 { Interrupt.simulate(true) }

        let gradients = try parameters.map { try $0.gradientBuffer() }
        let statistics = movingStatistics()
        let size = gradients.reduce(0) { $0 + $1.floats.count } + statistics.reduce(0) { $0 + $1.value.floats.count }
        if buffer.count != size { buffer = [Float](repeating: 0, count: size) }
        let weight = Float(local) / Float(global), share = 1 / Float(group.size)
        try buffer.withUnsafeMutableBufferPointer { flat in
            var at = 0
            func pack(_ source: UnsafeMutableBufferPointer<Float>, _ scale: Float) {
                for i in 0..<source.count { flat[at + i] = source[i] * scale }
                at += source.count
            }
            for g in gradients { withExtendedLifetime(g) { pack(g.floats, weight) } }
            for p in statistics { withExtendedLifetime(p.value) { pack(p.value.floats, share) } }
            try group.allreduceSum(flat)
            at = 0
            func unpack(_ target: UnsafeMutableBufferPointer<Float>) {
                for i in 0..<target.count { target[i] = flat[at + i] }
                at += target.count
            }
            for g in gradients { withExtendedLifetime(g) { unpack(g.floats) } }
            for p in statistics {
                withExtendedLifetime(p.value) { unpack(p.value.floats) }
                p.markUpdated()
            }
        }
        return (totals[0], Int(totals[1].rounded()), Int(totals[2].rounded()))
    }

    /// The moving mean and variance of batch norms that train their statistics now.
    private func movingStatistics() -> [Parameter] {
        network.layers.compactMap { $0 as? BatchNormalization }
            .filter { $0.trainable && !$0.freezeStatistics }
            .flatMap { [$0.movingMean, $0.movingVariance] }
    }
}

extension Trainer {
    /// `EvaluationResult` of a loader sharded by blocks (`BatchLoader.Sharding.block`): the
    /// processes' results put together in the images' order, on every process, as one process
    /// would have computed them.
    static func gathered(_ local: EvaluationResult, group: ProcessGroup, classCount k: Int) throws -> EvaluationResult {
        guard group.size > 1 else { return local }
        let n = local.labels.count
        // Per rank: its image count; then the loss sum and correct count over all.
        var counts = [Double](repeating: 0, count: group.size + 2)
        counts[group.rank] = Double(n)
        counts[group.size] = n > 0 ? local.loss * Double(n) : 0
        counts[group.size + 1] = n > 0 ? (local.accuracy * Double(n)).rounded() : 0
        counts = try group.sum(counts)
        let sizes = counts[0..<group.size].map { Int($0) }
        let total = sizes.reduce(0, +), offset = sizes[0..<group.rank].reduce(0, +)
        // Each rank writes its rows (probabilities, then the label) into zeros: the sum is the concatenation.
        var rows = [Float](repeating: 0, count: total * (k + 1))
        for (i, row) in local.probabilities.enumerated() {
            let base = (offset + i) * (k + 1)
            for c in 0..<k { rows[base + c] = row[c] }
            rows[base + k] = Float(local.labels[i])
        }
        try rows.withUnsafeMutableBufferPointer { try group.allreduceSum($0) }
        let probabilities = (0..<total).map { Array(rows[($0 * (k + 1))..<($0 * (k + 1) + k)]) }
        let labels = (0..<total).map { Int(rows[$0 * (k + 1) + k]) }
        let t = Double(total)
        return EvaluationResult(loss: total > 0 ? counts[group.size] / t : .nan,
                                accuracy: total > 0 ? counts[group.size + 1] / t : .nan,
                                probabilities: probabilities, labels: labels)
    }
}
