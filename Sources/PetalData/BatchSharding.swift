/// How a `BatchLoader` of one of several processes training together (data parallelism)
/// takes its part of the data. Every process shuffles the same way (same seed), so the parts
/// are disjoint and together cover each epoch exactly as one process would.
public extension BatchLoader {
    enum Sharding: Sendable, Equatable {
        /// All of the data (one process).
        case none
        /// Training: each global batch of `batchSize * count` consecutive images of the epoch's
        /// order is cut into `count` near-equal shares; this process takes share `rank`. The
        /// global batches are those of one process with batch `batchSize * count`.
        case batchShares(rank: Int, count: Int)
        /// Evaluation: this process takes block `rank` of `count` contiguous blocks of the images,
        /// so the blocks in rank order are the images in order.
        case block(rank: Int, count: Int)

        /// The images this process draws its batches from.
        public func images(of total: Int) -> Range<Int> {
            guard case let .block(rank, count) = self else { return 0..<total }
            return Self.part(rank, of: count, total)
        }

        public func batchCount(images total: Int, batchSize: Int) -> Int {
            let perBatch = if case let .batchShares(_, count) = self { batchSize * count } else { batchSize }
            let n = images(of: total).count
            return (n + perBatch - 1) / perBatch
        }

        /// Positions in the epoch's order of this process's part of batch `b`: its offset in the
        /// global batch and that batch's size. An empty share becomes the global batch's first
        /// image marked as padding, so that every process runs every step.
        func share(ofBatch b: Int, batchSize: Int, images total: Int)
            -> (range: Range<Int>, offset: Int, globalCount: Int, isPadding: Bool) {
            guard case let .batchShares(rank, count) = self else {
                let start = b * batchSize
                return (start..<min(start + batchSize, total), 0, min(start + batchSize, total) - start, false)
            }
            let start = b * batchSize * count, end = min(start + batchSize * count, total)
            let part = Self.part(rank, of: count, end - start)
            guard !part.isEmpty else { return (start..<start + 1, 0, end - start, true) }
            return ((start + part.lowerBound)..<(start + part.upperBound), part.lowerBound, end - start, false)
        }

        /// Part `k` of `parts` near-equal contiguous parts of 0..<n (the first ones are the larger).
        public static func part(_ k: Int, of parts: Int, _ n: Int) -> Range<Int> {
            let base = n / parts, extra = n % parts
            let start = k * base + min(k, extra)
            return start..<(start + base + (k < extra ? 1 : 0))
        }
    }
}
