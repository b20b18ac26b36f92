import Foundation
import PetalCore

/// One batch: images as a [N, 3, H, W] Float32 tensor in NHWC physical layout, already
/// normalised, and the class index of each image.
public struct Batch: Sendable {
    public let images: Tensor
    public let labels: [Int]
    /// Positions of the images in the cache.
    public let indices: [Int]

    public var count: Int { labels.count }

    /// The labels one-hot, as a row-major [N, classCount] tensor.
    public func oneHot(classCount: Int) throws -> Tensor {
        let t = try Tensor(zeros: [labels.count, classCount])
        let p = t.floats
        for (i, label) in labels.enumerated() { p[i * classCount + label] = 1 }
        return t
    }
}

/// Makes batches from an `ImageCache`: shuffled per epoch from the seed, augmented and
/// normalised on background threads with a bounded prefetch queue, so a training step
/// rarely waits. The last partial batch is kept (as Keras does). The same seed and epoch
/// give the same batches, whatever the thread timing.
public final class BatchLoader: Sendable {
    public let cache: ImageCache
    public let batchSize: Int
    public let shuffle: Bool
    public let augmentation: Augmentation
    public let normalization: InputNormalization
    public let seed: UInt64
    public let workers: Int
    public let prefetch: Int

    public init(cache: ImageCache, batchSize: Int, shuffle: Bool, augmentation: Augmentation = .none,
                normalization: InputNormalization, seed: UInt64 = 42, workers: Int = 2, prefetch: Int = 4) {
        precondition(batchSize > 0, "BatchLoader: batch size \(batchSize)")
        self.cache = cache
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.augmentation = augmentation
        self.normalization = normalization
        self.seed = seed
        self.workers = max(1, workers)
        self.prefetch = max(1, prefetch)
    }

    /// A loader for validation or test images: cache order, never augmented.
    public static func evaluation(cache: ImageCache, batchSize: Int, normalization: InputNormalization,
                                  workers: Int = 2) -> BatchLoader {
        BatchLoader(cache: cache, batchSize: batchSize, shuffle: false, augmentation: .none,
                    normalization: normalization, seed: 0, workers: workers)
    }

    public var batchesPerEpoch: Int { (cache.count + batchSize - 1) / batchSize }

    /// The image order of an epoch: the cache order, or a shuffle seeded by (seed, epoch).
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<cache.count)
        if shuffle {
            var rng = SplitMix64(seed: seed, 0x5348_5546, UInt64(epoch))
            rng.shuffle(&order)
        }
        return order
    }

    /// The batches of one epoch, made on background threads as they are consumed.
    public func epoch(_ epoch: Int) -> EpochBatches {
        EpochBatches(loader: self, epoch: epoch)
    }

    /// Throws `TensorError` when a batch of this size cannot be allocated (e.g. a huge image
    /// size). The Trainer calls it before iterating, so that making batches cannot fail.
    public func checkBatchFits() throws {
        _ = try Tensor(layout: .nhwc([batchSize, 3, cache.height, cache.width]))
    }

    /// Makes batch `b` of an epoch on the calling thread.
    public func makeBatch(epoch: Int, index b: Int, order: [Int]) -> Batch {
        let start = b * batchSize, end = min(start + batchSize, order.count)
        let n = end - start
        let w = cache.width, h = cache.height, per = w * h * 3
        // `checkBatchFits` has allocated a full batch already: failing here means the process ran
        // out of memory since, which ends it as any Swift array allocation would.
        guard let tensor = try? Tensor(layout: .nhwc([n, 3, h, w])) else {
            fatalError("out of memory making a batch of \(n) images of \(w)x\(h)")
        }
        let out = tensor.floats.baseAddress!
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: per)
        defer { scratch.deallocate() }
        var labels: [Int] = []
        labels.reserveCapacity(n)
        for k in 0..<n {
            let index = order[start + k]
            labels.append(cache.files[index].label)
            let dst = out + k * per
            if augmentation.isNone {
                normalize(cache.pixels(index), into: dst, count: per)
                continue
            }
            var rng = SplitMix64(seed: seed, 0x4155_4755, UInt64(epoch), UInt64(start + k))
            let sample = augmentation.sample(&rng, width: w, height: h)
            var src = cache.pixels(index)
            if !sample.isIdentityGeometry {
                AugmentationKernel.warp(src, into: scratch, width: w, height: h, map: sample.inverseMap(width: w, height: h))
                src = UnsafePointer(scratch)
            }
            photometric(src, into: dst, pixels: w * h, sample: sample)
        }
        return Batch(images: tensor, labels: labels, indices: Array(order[start..<end]))
    }

    private func normalize(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        normalization.apply(src, into: dst, count: count)
    }

    /// Brightness (add, clip to 0...255), then contrast around each channel's mean (clip),
    /// then normalisation — as one lookup table per channel, since each output value depends
    /// only on the input byte and its channel. Channel means come from histograms.
    private func photometric(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<Float>,
                             pixels: Int, sample: Augmentation.Sample) {
        let delta = sample.brightnessDelta, factor = sample.contrastFactor
        if delta == 0 && factor == 1 {
            normalize(src, into: dst, count: pixels * 3)
            return
        }
        @inline(__always) func bright(_ v: Int) -> Float { min(max(Float(v) + delta, 0), 255) }
        var means: [Float] = [0, 0, 0]
        if factor != 1 {
            var histogram = [Int](repeating: 0, count: 768)
            histogram.withUnsafeMutableBufferPointer { hist in
                for i in 0..<pixels {
                    hist[Int(src[i * 3])] += 1; hist[256 + Int(src[i * 3 + 1])] += 1; hist[512 + Int(src[i * 3 + 2])] += 1
                }
            }
            for ch in 0..<3 {
                var sum: Float = 0
                for v in 0..<256 where histogram[ch * 256 + v] > 0 { sum += Float(histogram[ch * 256 + v]) * bright(v) }
                means[ch] = sum / Float(pixels)
            }
        }
        var table = [Float](repeating: 0, count: 768)
        for ch in 0..<3 {
            for v in 0..<256 {
                var x = bright(v)
                if factor != 1 { x = min(max((x - means[ch]) * factor + means[ch], 0), 255) }
                table[ch * 256 + v] = x * normalization.scale(channel: ch) + normalization.offset(channel: ch)
            }
        }
        table.withUnsafeBufferPointer { t in
            let lut = t.baseAddress!
            for i in 0..<pixels {
                dst[i * 3] = lut[Int(src[i * 3])]
                dst[i * 3 + 1] = lut[256 + Int(src[i * 3 + 1])]
                dst[i * 3 + 2] = lut[512 + Int(src[i * 3 + 2])]
            }
        }
    }
}

/// The batches of one epoch, as a sequence. Iterating starts the background workers;
/// dropping the iterator early stops them.
public struct EpochBatches: Sequence {
    let loader: BatchLoader
    let epoch: Int

    public var count: Int { loader.batchesPerEpoch }

    public func makeIterator() -> Iterator { Iterator(Prefetcher(loader: loader, epoch: epoch)) }

    public struct Iterator: IteratorProtocol {
        let owner: Owner
        init(_ p: Prefetcher) { owner = Owner(p) }
        public mutating func next() -> Batch? { owner.prefetcher.next() }
    }

    /// Held only by the iterator (the worker threads hold the prefetcher), so dropping the
    /// iterator stops the workers even though they keep the prefetcher alive.
    final class Owner {
        let prefetcher: Prefetcher
        init(_ p: Prefetcher) { prefetcher = p }
        deinit { prefetcher.cancel() }
    }
}

/// Background workers making batches ahead of the consumer, at most `prefetch` ahead.
/// Worker k makes batches k, k + workers, ...; the consumer takes them in order.
final class Prefetcher: @unchecked Sendable {  // unchecked: mutable state behind `condition`
    private let loader: BatchLoader
    private let epoch: Int
    private let order: [Int]
    private let total: Int
    private let condition = NSCondition()
    private var ready: [Int: Batch] = [:]
    private var nextIndex = 0
    private var cancelled = false
    private var started = false

    init(loader: BatchLoader, epoch: Int) {
        self.loader = loader
        self.epoch = epoch
        self.order = loader.order(epoch: epoch)
        self.total = loader.batchesPerEpoch
    }

    /// Worker threads running now, in all prefetchers (for tests).
    nonisolated(unsafe) static var liveWorkers = 0
    static let liveLock = NSLock()

    private func start() {
        started = true
        let workers = min(loader.workers, max(total, 1))
        for k in 0..<workers {
            Prefetcher.liveLock.lock(); Prefetcher.liveWorkers += 1; Prefetcher.liveLock.unlock()
            let thread = Thread { [self] in
                self.work(first: k, step: workers)
                Prefetcher.liveLock.lock(); Prefetcher.liveWorkers -= 1; Prefetcher.liveLock.unlock()
            }
            thread.name = "petal-batches-\(k)"
            thread.start()
        }
    }

    private func work(first: Int, step: Int) {
        var b = first
        while b < total {
            condition.lock()
            while b >= nextIndex + loader.prefetch && !cancelled { condition.wait() }
            let stop = cancelled
            condition.unlock()
            if stop { return }
            let batch = loader.makeBatch(epoch: epoch, index: b, order: order)
            condition.lock()
            ready[b] = batch
            condition.broadcast()
            condition.unlock()
            b += step
        }
    }

    func next() -> Batch? {
        if !started { start() }
        condition.lock()
        defer { condition.unlock() }
        guard nextIndex < total else { return nil }
        while ready[nextIndex] == nil { condition.wait() }
        let batch = ready.removeValue(forKey: nextIndex)
        nextIndex += 1
        condition.broadcast()
        return batch
    }

    func cancel() {
        condition.lock()
        cancelled = true
        ready.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
