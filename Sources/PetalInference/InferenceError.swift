import Foundation

/// What can go wrong loading a model for inference or using it. Each message names the file
/// (or the image) and the problem; decoding and weight-file errors come through as the
/// `DataError` and `WeightError` that name the image or weights file.
public enum InferenceError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A weight that is NaN or infinite (a diverged training, a damaged file): every
    /// probability the model gave would be meaningless, so it is refused at load.
    case nonFiniteWeights(path: String, tensor: String, count: Int)
    /// The model's output for an image is not finite (weights too large for Float32).
    case nonFiniteOutput(path: String, images: Int, of: Int)
    /// A run folder with no final model in it.
    case noModelInRunFolder(path: String, file: String)
    /// No weights file with the backbone's own ImageNet classifier.
    case noImageNetClassifier(architecture: String, reason: String)
    /// Pixels whose byte count does not fit their width and height.
    case malformedPixels(width: Int, height: Int, bytes: Int)

    public var description: String {
        switch self {
        case let .nonFiniteWeights(path, tensor, count):
            return "\(path): tensor `\(tensor)` holds \(count) non-finite value\(count == 1 ? "" : "s") (NaN or infinity); "
                + "the model cannot classify anything (did its training diverge?)"
        case let .nonFiniteOutput(path, images, total):
            return "\(path): the model's output is not finite for \(images) of \(total) image\(total == 1 ? "" : "s") "
                + "(its weights overflow Float32)"
        case let .noModelInRunFolder(path, file):
            return "\(path): no \(file) in this run folder (was training finished?)"
        case let .noImageNetClassifier(architecture, reason):
            return "no ImageNet classifier weights for \(architecture): \(reason)"
        case let .malformedPixels(width, height, bytes):
            return "RGB pixels: \(bytes) bytes for \(width)x\(height) (needs \(max(width, 0) * max(height, 0) * 3), "
                + "width and height at least 1)"
        }
    }

    public var errorDescription: String? { description }
}
