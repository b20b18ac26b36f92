import Foundation

/// What can go wrong reading a dataset. Every message names the file or folder and the problem.
public enum DataError: Error, CustomStringConvertible, Equatable {
    /// A file that could not be read or decoded as an image.
    case undecodable(path: String, reason: String)
    /// An image too large to decode (by its header), refused before decoding.
    case tooLarge(path: String, width: Int, height: Int, limit: Int)
    /// A dataset folder that is missing or has no class folders.
    case badFolder(path: String, reason: String)
    /// A class with too few images for the requested split.
    case classTooSmall(className: String, count: Int, needed: Int)
    /// Split fractions that are negative or do not sum to 1.
    case badFractions(String)
    /// A split file that cannot be read or does not match the dataset.
    case badSplitFile(path: String, reason: String)
    /// No image of a list could be decoded.
    case noImages(String)
    /// A dataset with fewer than two classes, which no classifier can be trained on.
    case tooFewClasses(path: String, classNames: [String])

    public var description: String {
        switch self {
        case let .undecodable(path, reason):
            return "\(path): \(reason)"
        case let .tooLarge(path, width, height, limit):
            let mp = Double(width) * Double(height) / 1e6
            return "\(path): image is \(width)x\(height) (\(String(format: "%.1f", mp)) megapixels), over the limit of \(limit / 1_000_000) megapixels"
        case let .badFolder(path, reason):
            return "\(path): \(reason)"
        case let .classTooSmall(name, count, needed):
            return "class '\(name)' has \(count) image\(count == 1 ? "" : "s"), too few to split (needs at least \(needed): one per non-empty split)"
        case let .badFractions(message):
            return "split fractions: \(message)"
        case let .badSplitFile(path, reason):
            return "\(path): \(reason)"
        case let .noImages(message):
            return message
        case let .tooFewClasses(path, names):
            let found = names.isEmpty ? "no class" : "only one class (\(names[0]))"
            return "\(path): \(found); a classifier needs at least two classes, one sub-folder of images each"
        }
    }
}

extension DataError: LocalizedError {
    public var errorDescription: String? { description }
}

/// A file that failed to decode, with the reason; failures are collected and skipped.
public struct DecodeFailure: Codable, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    init(url: URL, error: Error) {
        path = url.path
        if case let DataError.undecodable(_, reason) = error {
            self.reason = reason
        } else if let e = error as? DataError {
            // The description already starts with the path; keep only the reason.
            let text = e.description
            self.reason = text.hasPrefix(url.path + ": ") ? String(text.dropFirst(url.path.count + 2)) : text
        } else {
            reason = "\(error)"
        }
    }

    public var description: String { "\(path): \(reason)" }
}
