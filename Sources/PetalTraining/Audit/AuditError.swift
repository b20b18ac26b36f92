import Foundation

/// Problems of `petal data audit`, each naming the option, file or folder and what to do.
public enum AuditError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A setting out of its range, named by its command-line option.
    case badOption(option: String, reason: String)
    /// Too little data to audit (fewer than two classes with images, too few images).
    case tooLittleData(path: String, reason: String)
    /// Probabilities and labels that do not fit together (the library API's input).
    case invalidInput(String)
    /// The output folder holds files Petal did not write, or cannot be written.
    case outputNotOurs(path: String, reason: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badOption(option, reason): return "\(option): \(reason)"
        case let .tooLittleData(path, reason): return "\(path): \(reason)"
        case let .invalidInput(reason): return "confident learning: \(reason)"
        case let .outputNotOurs(path, reason): return "\(path): \(reason); Petal writes an audit only into a new or empty folder, or one holding an earlier Petal audit: choose another --out"
        case let .cannotWrite(path, reason): return "\(path): cannot write (\(reason))"
        }
    }

    public var errorDescription: String? { description }
}
