import Foundation
import PetalCore
import PetalData
import PetalLayers
import PetalModels
import PetalTraining

/// A trained model loaded once, to classify images: Petal's inference library. The
/// preprocessing is the training's evaluation path, through the same functions: decode with
/// EXIF orientation and resize to the input size (`ImageDecoder`, as `ImageCache` does), the
/// backbone's normalisation (`InputNormalization.apply`, as `BatchLoader` does), softmax
/// (`SoftmaxCrossEntropy`, as the trainer's evaluation does).
///
/// Safe to call from many threads and tasks at once with one shared instance.
public final class ImageClassifier: Sendable {
    public let classNames: [String]
    /// The square input side the model was trained at.
    public let inputSize: Int
    public let normalization: InputNormalization
    public let architecture: Architecture
    /// The model (or weights) file it was loaded from.
    public let source: URL
    /// What the probabilities are averaged over (`.flip`: the image and its mirror).
    public let testTimeAugmentation: TestTimeAugmentation

    /// Images per forward pass; longer lists are split, so memory stays bounded. The
    /// evaluation batch of `petal train` and `petal evaluate`.
    public static let batchSize = 32

    private let network: NetworkRunner

    init(network: Network, classNames: [String], inputSize: Int, normalization: InputNormalization,
         architecture: Architecture, source: URL, testTimeAugmentation: TestTimeAugmentation = .none) throws(InferenceError) {
        try Self.checkFinite(network, source: source)
        self.network = NetworkRunner(network)
        self.classNames = classNames
        self.inputSize = inputSize
        self.normalization = normalization
        self.architecture = architecture
        self.source = source
        self.testTimeAugmentation = testTimeAugmentation
    }

    /// Loads a model file written by `petal train` (or a run folder: its `model.safetensors`).
    /// Refuses a model with non-finite weights, naming the file and tensor.
    public convenience init(contentsOf url: URL, testTimeAugmentation: TestTimeAugmentation = .none) throws {
        let file = TransferClassifier.modelFile(fileOrRunFolder: url)
        if file != url && !FileManager.default.fileExists(atPath: file.path) {
            throw InferenceError.noModelInRunFolder(path: url.path, file: RunFolder.File.model.rawValue)
        }
        let model = try TransferClassifier.load(from: file)
        try self.init(network: model.network, classNames: model.classNames, inputSize: model.inputSize,
                      normalization: model.normalization, architecture: model.architecture, source: file,
                      testTimeAugmentation: testTimeAugmentation)
    }

    // MARK: - Preprocessing

    /// Decodes one input to the model's input size (errors name the file or part). Images
    /// over `maxPixels` (by their header) are refused before decoding.
    public func decode(_ input: ImageInput, maxPixels: Int = ImageDecoder.defaultMaxPixels) throws -> RGBImage {
        switch input {
        case .file(let url):
            return try ImageDecoder.decode(contentsOf: url, width: inputSize, height: inputSize, maxPixels: maxPixels)
        case .encoded(let data, let name):
            return try ImageDecoder.decode(data, path: name, width: inputSize, height: inputSize, maxPixels: maxPixels)
        case .pixels(let image):
            return try sized(image)
        }
    }

    /// The image at the input size (checked, resized with the decoder's filter if needed).
    private func sized(_ image: RGBImage) throws(InferenceError) -> RGBImage {
        guard image.width > 0, image.height > 0, image.pixels.count == image.width * image.height * 3 else {
            throw .malformedPixels(width: image.width, height: image.height, bytes: image.pixels.count)
        }
        return image.resized(width: inputSize, height: inputSize)
    }

    /// The normalised [N, 3, H, W] batch (NHWC in memory, as `BatchLoader` makes it).
    func batch(_ images: ArraySlice<RGBImage>) throws -> Tensor {
        let size = inputSize, per = size * size * 3
        let tensor = try Tensor(layout: .nhwc([images.count, 3, size, size]))
        let out = tensor.floats.baseAddress!
        for (k, image) in images.enumerated() {
            let ready = try sized(image)
            ready.pixels.withUnsafeBufferPointer { normalization.apply($0.baseAddress!, into: out + k * per, count: per) }
        }
        return tensor
    }

    // MARK: - Classifying

    /// Softmax probabilities, one row per image, in the order of `classNames`. Images not at
    /// the input size are resized first (as `decode(.pixels)` does).
    public func probabilities(_ images: [RGBImage]) throws -> [[Float]] {
        var rows: [[Float]] = []
        rows.reserveCapacity(images.count)
        for start in stride(from: 0, to: images.count, by: Self.batchSize) {
            let chunk = images[start..<min(start + Self.batchSize, images.count)]
            rows += try probabilities(ofBatch: try batch(chunk))
        }
        return rows
    }

    /// Softmax rows of one normalised batch; refuses to hand out non-finite probabilities.
    func probabilities(ofBatch batch: Tensor) throws -> [[Float]] {
        let k = classNames.count
        let flat = try network.probabilities(batch, augmentation: testTimeAugmentation)
        let rows = (0..<batch.shape[0]).map { Array(flat[($0 * k)..<(($0 + 1) * k)]) }
        let bad = rows.filter { !$0.allSatisfy(\.isFinite) }.count
        if bad > 0 { throw InferenceError.nonFiniteOutput(path: source.path, images: bad, of: rows.count) }
        return rows
    }

    /// Classifies a batch of inputs; `top` classes per image, most probable first. The first
    /// input that cannot be decoded fails the whole call (`classify(files:top:)` reports each).
    public func classify(_ inputs: [ImageInput], top: Int = 5) throws -> [Classification] {
        let rows = try probabilities(try inputs.map { try decode($0) })
        return rows.map { classification($0, top: top) }
    }

    /// Classifies one input.
    public func classify(_ input: ImageInput, top: Int = 5) throws -> Classification {
        try classify([input], top: top)[0]
    }

    public func callAsFunction(_ input: ImageInput, top: Int = 5) throws -> Classification {
        try classify(input, top: top)
    }

    /// The top `top` classes of one row of probabilities (ties: the lower index first).
    public func classification(_ probabilities: [Float], top: Int) -> Classification {
        let order = probabilities.indices.sorted {
            probabilities[$0] != probabilities[$1] ? probabilities[$0] > probabilities[$1] : $0 < $1
        }
        return Classification(probabilities: probabilities, top: order.prefix(max(0, top)).map {
            ClassScore(index: $0, className: classNames.indices.contains($0) ? classNames[$0] : "\($0)",
                       probability: probabilities[$0])
        })
    }

    // MARK: - Loading checks

    /// Refuses weights with NaN or infinity, naming the first such tensor.
    private static func checkFinite(_ network: Network, source: URL) throws(InferenceError) {
        for parameter in network.weights where parameter.value.dataType == .float32 {
            let value = parameter.value
            let bad = withExtendedLifetime(value) { value.floats.reduce(0) { $1.isFinite ? $0 : $0 + 1 } }
            if bad > 0 { throw .nonFiniteWeights(path: source.path, tensor: parameter.name, count: bad) }
        }
    }
}

/// Runs the network's inference forward pass (`Network.infer`), which keeps nothing on the
/// network or its layers: calls from many threads run at once, each on its own tensors.
struct NetworkRunner: Sendable {
    let network: Network

    init(_ network: Network) { self.network = network }

    /// Row-major (N, K) softmax probabilities of a normalised batch.
    func probabilities(_ batch: Tensor) throws -> [Float] {
        try SoftmaxCrossEntropy.softmax(try network.infer(batch))
    }
}
