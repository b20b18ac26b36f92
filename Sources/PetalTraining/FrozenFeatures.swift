import Foundation
import PetalCore
import PetalData
import PetalLayers

/// Features of images from a frozen network, computed once without augmentation: the
/// output of layer `through` (e.g. a `TransferClassifier`'s global average pooling, index
/// `baseLayerCount`) for every image, through the inference pass (`Network.infer`) in
/// evaluation batches (`BatchLoader.evaluation`), by training's own `CachedFeatures`. Reusable wherever
/// the base stays frozen (a label audit, cached features for a frozen-base phase).
public struct FrozenFeatures: Sendable {
    /// The images whose features were computed (those that decoded), in the order given.
    public var files: [LabeledFile]
    /// Row-major (files.count, dimension).
    public var values: [Float]
    public var dimension: Int
    /// Files that could not be decoded, each with why.
    public var failures: [DecodeFailure]

    public var count: Int { files.count }

    /// Row `i`.
    public func row(_ i: Int) -> ArraySlice<Float> { values[(i * dimension)..<((i + 1) * dimension)] }

    /// Decodes `files` at `side`×`side` in chunks of `chunk` images (so memory holds one
    /// chunk of pixels, not the dataset), normalises them with `normalization`, and runs
    /// `network` up to layer `through` in batches of `batchSize`. `progress` is called
    /// after each batch with (done, total).
    public static func compute(_ files: [LabeledFile], network: Network, through layer: Int, side: Int,
                               normalization: InputNormalization, batchSize: Int = 32, chunk: Int = 512,
                               progress: (Int, Int) -> Void = { _, _ in }) throws -> FrozenFeatures {
        let dimension = network.outputShape(of: layer).dropFirst().reduce(1, *)
        var result = FrozenFeatures(files: [], values: [], dimension: dimension, failures: [])
        result.values.reserveCapacity(files.count * dimension)
        var done = 0
        for start in stride(from: 0, to: files.count, by: max(chunk, 1)) {
            let part = Array(files[start..<min(start + chunk, files.count)])
            let cache: ImageCache
            do { cache = try ImageCache(files: part, side: side) } catch DataError.noImages {
                // A chunk where nothing decodes: count its files as failures and go on.
                result.failures += part.map { DecodeFailure(path: $0.url.path, reason: "does not decode") }
                done += part.count
                continue
            }
            result.failures += cache.failures
            done += cache.failures.count
            let loader = BatchLoader.evaluation(cache: cache, batchSize: batchSize, normalization: normalization, workers: 1)
            let features = try CachedFeatures(network: network, cut: layer, loader: loader) { count in
                done += count
                progress(done, files.count)
            }
            result.values += features.rows
            result.files += cache.files
        }
        return result
    }
}
