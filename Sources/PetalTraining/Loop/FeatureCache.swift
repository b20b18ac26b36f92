import Foundation
import PetalCore
import PetalData
import PetalLayers

/// One training or evaluation step's input: a batch of images, or of cached features.
public struct StepBatch {
    public var input: Tensor
    public var labels: [Int]
    /// Data parallelism (`Batch`'s fields of the same names): where this share starts in the
    /// global batch, the global batch's size, and whether it is a stand-in that counts for nothing.
    public var globalOffset = 0
    public var globalCount: Int?
    public var isPadding = false
    public var count: Int { labels.count }
}

/// The output of a network's frozen prefix (layers 1...`cut`) for every image of a loader,
/// computed once by `Network.infer`: the Keras guide's "fast feature extraction". Batches
/// come in the loader's order (the same shuffle per epoch), so training the remainder on them
/// gives the same losses and weights as training the whole network on the images, as long as
/// nothing changes the prefix's output: no augmentation, no trained layer in the prefix.
public final class CachedFeatures {
    /// Each image's features (the prefix's output for a batch of one).
    public let shape: [Int]
    public let labels: [Int]
    let loader: BatchLoader
    private let values: Tensor
    private let perImage: Int
    /// Batch buffers by image count, reused from step to step.
    private var buffers: [Int: Tensor] = [:]

    /// Bytes the features of `images` images at cut `cut` take.
    public static func bytes(network: Network, cut: Int, images: Int) -> Int {
        network.outputShape(of: cut).reduce(1, *) * images * MemoryLayout<Float>.size
    }

    /// Runs every image of `loader` (which must not augment) through layers 1...`cut`;
    /// `progress` gets each batch's image count once the batch is done.
    init(network: Network, cut: Int, loader: BatchLoader, progress: (Int) -> Void = { _ in }) throws {
        precondition(loader.augmentation.isNone, "CachedFeatures: a loader that augments")  // FeatureCache.make checks
        shape = Array(network.outputShape(of: cut).dropFirst())
        perImage = shape.reduce(1, *)
        self.loader = loader
        labels = loader.cache.labels
        try loader.checkBatchFits()
        values = try Tensor(layout: Self.layout(shape, count: max(loader.cache.count, 1)))
        let all = values.floats.baseAddress!
        for batch in loader.epoch(0) {
            var y = try network.infer(batch.images, through: cut)
            let plain = Self.layout(shape, count: batch.count)
            if y.layout != plain { y = try y.reordered(to: plain) }
            let rows = y.floats.baseAddress!
            for (k, index) in batch.indices.enumerated() {
                (all + index * perImage).update(from: rows + k * perImage, count: perImage)
            }
            progress(batch.count)
        }
    }

    /// Every image's features in the cache's order, one row each (channels last for feature maps).
    var rows: [Float] { Array(values.floats.prefix(labels.count * perImage)) }

    /// Row-major features, channels last for feature maps (as images are batched).
    private static func layout(_ shape: [Int], count: Int) -> TensorLayout {
        shape.count == 3 ? .nhwc([count] + shape) : .rowMajor([count] + shape)
    }

    /// The batches of an epoch, in the loader's order for that epoch. Each batch's tensor is
    /// reused by a later batch of the same size: use it before taking the next.
    public func epoch(_ epoch: Int) -> AnySequence<StepBatch> {
        let order = loader.order(epoch: epoch), size = loader.batchSize
        let batches = stride(from: 0, to: order.count, by: size).lazy.map { start -> StepBatch in
            let indices = order[start..<min(start + size, order.count)]
            return StepBatch(input: self.gather(indices), labels: indices.map { self.labels[$0] })
        }
        return AnySequence(batches)
    }

    private func gather(_ indices: ArraySlice<Int>) -> Tensor {
        let n = indices.count
        // The whole cache is allocated already; a failure here means memory ran out since.
        guard let batch = try? buffers[n] ?? Tensor(layout: Self.layout(shape, count: n)) else {
            fatalError("out of memory making a batch of \(n) cached feature rows")
        }
        buffers[n] = batch
        let source = values.floats.baseAddress!, destination = batch.floats.baseAddress!
        for (k, index) in indices.enumerated() {
            (destination + k * perImage).update(from: source + index * perImage, count: perImage)
        }
        return batch
    }
}

/// A training phase's cached features: the network's remainder after the frozen prefix, and
/// the prefix's outputs for the training and validation images.
public final class FeatureCache {
    public let cut: Int
    /// Layers cut + 1 ... of the model (the same objects), reading the features.
    public let remainder: Network
    public let train: CachedFeatures
    public let validation: CachedFeatures?

    init(cut: Int, remainder: Network, train: CachedFeatures, validation: CachedFeatures?) {
        self.cut = cut; self.remainder = remainder; self.train = train; self.validation = validation
    }

    /// At most this share of the machine's memory goes to cached features.
    public static let memoryShare = 0.25

    /// The cache for training `network` as it is frozen now on these loaders, or nil (with
    /// the reason in `log`) when there is none to make: the training images are augmented,
    /// nothing below the trained layers is frozen, or the features would not fit in
    /// `memoryShare` of the machine's memory (then every step computes the prefix again).
    public static func make(for network: Network, train: BatchLoader, validation: BatchLoader?,
                            log: (String) -> Void) throws -> FeatureCache? {
        guard train.augmentation.isNone else { return nil }
        let cut = network.frozenPrefixEnd()
        guard cut > 0 else { return nil }
        let images = train.cache.count + (validation?.cache.count ?? 0)
        let bytes = CachedFeatures.bytes(network: network, cut: cut, images: images)
        let budget = Double(ProcessInfo.processInfo.physicalMemory) * memoryShare
        let name = network.layers[cut].name
        guard Double(bytes) <= budget else {
            log(String(format: "Frozen layers' outputs (%@) of %d images would take %.1f GB, more than %.1f GB: computed at every step",
                       name, images, Double(bytes) / 1e9, budget / 1e9))
            return nil
        }
        let started = Date()
        let trainFeatures = try CachedFeatures(network: network, cut: cut, loader: train)
        let validationFeatures = try validation.map { try CachedFeatures(network: network, cut: cut, loader: $0) }
        log(String(format: "Frozen layers 1-%d computed once (no augmentation): %d images' %@ outputs, %.0f MB, in %.1f s",
                   cut, images, name, Double(bytes) / 1e6, Date().timeIntervalSince(started)))
        return FeatureCache(cut: cut, remainder: network.remainder(after: cut), train: trainFeatures,
                            validation: validationFeatures)
    }
}
