import Foundation
import PetalCore
import PetalData
import PetalLayers
import PetalModels
import PetalTraining

/// One image to classify: a file, encoded JPEG/PNG bytes, or decoded RGB pixels.
public enum ImageInput: Sendable {
    case file(URL)
    /// JPEG or PNG bytes; `name` names the image in errors (an upload's part name, say).
    case encoded(Data, name: String)
    /// Decoded RGB pixels (any size: resized as the training's evaluation path does).
    case pixels(RGBImage)
}

/// One class and its probability.
public struct ClassScore: Sendable, Codable, Equatable {
    public var index: Int
    public var className: String
    public var probability: Float

    public init(index: Int, className: String, probability: Float) {
        self.index = index; self.className = className; self.probability = probability
    }
}

/// What the model says about one image: every class's probability and the top classes.
public struct Classification: Sendable, Equatable {
    /// Softmax probabilities in the order of `ImageClassifier.classNames`.
    public var probabilities: [Float]
    /// The `top` most probable classes, most probable first.
    public var top: [ClassScore]
}

/// A trained model loaded once, to classify images: Petal's inference library. The
/// preprocessing is the training's evaluation path (decode, EXIF orientation, resize to the
/// model's input size, the backbone's normalisation).
///
/// Safe to call from many threads and tasks at once with one shared instance.
public final class ImageClassifier: Sendable {
    public let classNames: [String]
    /// The square input side the model was trained at.
    public let inputSize: Int
    public let normalization: InputNormalization
    public let architecture: Architecture
    /// The model file it was loaded from.
    public let source: URL

    // The network keeps per-call activations; until forward passes carry their own state,
    // calls on one instance run one at a time (the lock is the reason for @unchecked).
    private let model: TransferClassifier
    private let lock = NSLock()

    /// Loads a model file written by `petal train` (or a run folder: its `model.safetensors`).
    public init(contentsOf url: URL) throws {
        source = TransferClassifier.modelFile(fileOrRunFolder: url)
        model = try TransferClassifier.load(from: source)
        classNames = model.classNames
        inputSize = model.inputSize
        normalization = model.normalization
        architecture = model.architecture
    }

    /// Decodes one input to the model's input size (errors name the file or part).
    public func decode(_ input: ImageInput) throws -> RGBImage {
        switch input {
        case .file(let url):
            return try ImageDecoder.decode(contentsOf: url, width: inputSize, height: inputSize)
        case .encoded(let data, let name):
            return try ImageDecoder.decode(data, path: name, width: inputSize, height: inputSize)
        case .pixels(let image):
            return image.width == inputSize && image.height == inputSize
                ? image : image.resized(width: inputSize, height: inputSize)
        }
    }

    /// Softmax probabilities for images already at the input size, one row per image.
    public func probabilities(_ images: [RGBImage]) throws -> [[Float]] {
        guard !images.isEmpty else { return [] }
        let n = images.count, size = inputSize
        let batch = Tensor(layout: .nhwc([n, 3, size, size]))
        let out = batch.floats
        let per = size * size * 3
        for (i, image) in images.enumerated() {
            image.pixels.withUnsafeBufferPointer { src in
                for j in 0..<per { out[i * per + j] = normalization.apply(src[j]) }
            }
        }
        return lock.withLock { model.predict(batch) }
    }

    /// Classifies a batch of inputs; `top` classes per image, most probable first.
    public func classify(_ inputs: [ImageInput], top: Int = 5) throws -> [Classification] {
        let rows = try probabilities(try inputs.map(decode))
        return rows.map { classification($0, top: top) }
    }

    /// Classifies one input.
    public func classify(_ input: ImageInput, top: Int = 5) throws -> Classification {
        try classify([input], top: top)[0]
    }

    public func callAsFunction(_ input: ImageInput, top: Int = 5) throws -> Classification {
        try classify(input, top: top)
    }

    /// The top `top` classes of one row of probabilities.
    public func classification(_ probabilities: [Float], top: Int) -> Classification {
        let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }.prefix(max(0, top))
        return Classification(probabilities: probabilities, top: order.map {
            ClassScore(index: $0, className: classNames[$0], probability: probabilities[$0])
        })
    }
}
