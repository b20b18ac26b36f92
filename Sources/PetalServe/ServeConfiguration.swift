import Foundation
import PetalInference

/// How `petal serve` listens, batches and bounds requests (its command-line options).
public struct ServeConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (printed at start-up).
    public var port = 8080
    /// Images per forward pass, at most.
    public var maxBatch = 32
    /// How long the first queued image waits for others before its batch runs.
    public var maxDelay: Duration = .milliseconds(5)
    /// Images waiting per model, at most; beyond it requests get 503 with Retry-After.
    public var maxQueue = 256
    public var maxBodyBytes = 20 * 1_048_576
    /// Images larger than this (by their header) get 422 before they are decoded.
    public var maxMegapixels = 40.0
    /// A connection with no bytes read or written for this long is closed (slow clients).
    public var idleTimeout: Duration = .seconds(30)
    /// Classes per image when the request does not say (?top=K).
    public var defaultTop = 5
    /// No line per request.
    public var quiet = false
    /// Test-time augmentation of every model (`--tta flip`: twice the inference per image).
    public var testTimeAugmentation = TestTimeAugmentation.none

    public init() {}

    public var maxPixels: Int { Int(maxMegapixels * 1_000_000) }

    /// Checks the numbers a user gave; the message names the option.
    public func validate() throws(ServeError) {
        if maxBatch < 1 { throw .badOption("--max-batch must be at least 1 (got \(maxBatch))") }
        if maxQueue < 1 { throw .badOption("--max-queue must be at least 1 (got \(maxQueue))") }
        if maxDelay < .zero { throw .badOption("--max-delay-ms must not be negative") }
        if maxBodyBytes < 1 { throw .badOption("--max-body-mb must be positive") }
        if !(maxMegapixels > 0) { throw .badOption("--max-megapixels must be positive") }
        if !(0...65535).contains(port) { throw .badOption("--port must be 0...65535 (got \(port))") }
        if idleTimeout <= .zero { throw .badOption("--idle-timeout must be positive") }
    }
}
