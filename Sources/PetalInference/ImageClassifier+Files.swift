import Dispatch
import Foundation
import PetalData

extension ImageClassifier {
    /// Files decoded at once (in parallel) before their batches run: bounds the memory.
    static let decodeChunk = 256

    /// Probabilities for image files, in the order given: each file's row, or the error that
    /// kept it from decoding. Files are decoded in parallel on all cores; the decoded images
    /// run `batchSize` at a time in order, skipping failures, exactly as the training's
    /// evaluation (`ImageCache` and `BatchLoader.evaluation`) batches them.
    public func probabilities(files: [URL], batchSize: Int = ImageClassifier.batchSize,
                              maxPixels: Int = ImageDecoder.defaultMaxPixels) throws -> [Result<[Float], DataError>] {
        let batchSize = max(1, batchSize)
        var results = [Result<[Float], DataError>?](repeating: nil, count: files.count)
        var pending: [(index: Int, image: RGBImage)] = []
        func run(_ count: Int) throws {
            let images = pending.prefix(count).map(\.image)
            let rows = try probabilities(ofBatch: try batch(images[...]))
            for (item, row) in zip(pending.prefix(count), rows) { results[item.index] = .success(row) }
            pending.removeFirst(count)
        }
        for start in stride(from: 0, to: files.count, by: Self.decodeChunk) {
            let range = start..<min(start + Self.decodeChunk, files.count)
            for (index, decoded) in zip(range, decodeInParallel(Array(files[range]), maxPixels: maxPixels)) {
                switch decoded {
                case .success(let image): pending.append((index, image))
                case .failure(let error): results[index] = .failure(error)
                }
            }
            while pending.count >= batchSize { try run(batchSize) }
        }
        if !pending.isEmpty { try run(pending.count) }
        return results.map { $0! }
    }

    /// Classifies image files (see `probabilities(files:batchSize:maxPixels:)`): each file's
    /// top classes, or the error that kept it from decoding, in the order given.
    public func classify(files: [URL], top: Int = 5, batchSize: Int = ImageClassifier.batchSize,
                         maxPixels: Int = ImageDecoder.defaultMaxPixels) throws -> [Result<Classification, DataError>] {
        try probabilities(files: files, batchSize: batchSize, maxPixels: maxPixels).map {
            $0.map { classification($0, top: top) }
        }
    }

    /// Each file decoded at the input size, on all cores.
    private func decodeInParallel(_ files: [URL], maxPixels: Int) -> [Result<RGBImage, DataError>] {
        var decoded = [Result<RGBImage, DataError>?](repeating: nil, count: files.count)
        decoded.withUnsafeMutableBufferPointer { buffer in
            // Each iteration writes only its own slot, so the threads never share one.
            nonisolated(unsafe) let slots = buffer
            DispatchQueue.concurrentPerform(iterations: files.count) { i in
                do {
                    slots[i] = .success(try decode(.file(files[i]), maxPixels: maxPixels))
                } catch let error as DataError {
                    slots[i] = .failure(error)
                } catch {
                    slots[i] = .failure(.undecodable(path: files[i].path, reason: "\(error)"))
                }
            }
        }
        return decoded.map { $0! }
    }
}
