import Foundation

/// What can go wrong building a model from a description (a saved model's JSON, options,
/// a dataset's classes).
public enum ModelError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A classifier needs at least two classes (a dataset with one class folder cannot train one).
    case tooFewClasses([String])
    /// An architecture that does not exist (e.g. EfficientNet-Lite7, MobileNetV2 alpha 0.6).
    case invalidArchitecture(String)
    /// The input size is below what the architecture takes.
    case inputTooSmall(minimum: Int, height: Int, width: Int)

    public var description: String {
        switch self {
        case let .tooFewClasses(names):
            let found = names.isEmpty ? "none" : names.map { "`\($0)`" }.joined(separator: ", ")
            return "a classifier needs at least two classes; found \(names.count) (\(found))"
        case let .invalidArchitecture(reason):
            return reason
        case let .inputTooSmall(minimum, height, width):
            return "input size \(height)x\(width) is too small: at least \(minimum)x\(minimum) is needed"
        }
    }

    public var errorDescription: String? { description }
}
