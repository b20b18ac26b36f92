import Foundation
import PetalCore

/// Test-time augmentation: what `ImageClassifier` averages its probabilities over
/// (`--tta` of `petal evaluate` and `petal predict`).
public enum TestTimeAugmentation: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// The image alone.
    case none
    /// The mean of the softmax probabilities of the image and of its horizontal mirror.
    case flip

    public var description: String { rawValue }

    /// The names the command line accepts.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

extension NetworkRunner {
    /// Row-major (N, K) probabilities of a normalised batch under `augmentation`. Each call
    /// makes its own mirrored tensor, so calls from many threads share nothing.
    func probabilities(_ batch: Tensor, augmentation: TestTimeAugmentation) throws -> [Float] {
        let plain = try probabilities(batch)
        guard augmentation == .flip else { return plain }
        let mirrored = try probabilities(try Self.horizontalMirror(batch))
        return zip(plain, mirrored).map { ($0 + $1) / 2 }
    }

    /// The batch with every image mirrored left to right (the W axis of [N, C, H, W]).
    static func horizontalMirror(_ batch: Tensor) throws -> Tensor {
        let layout = TensorLayout.nhwc(batch.shape)
        let source = batch.layout == layout ? batch : try batch.reordered(to: layout)
        let (n, c, h, w) = (batch.shape[0], batch.shape[1], batch.shape[2], batch.shape[3])
        let out = try Tensor(layout: layout)
        withExtendedLifetime(source) {
            let from = source.floats, to = out.floats
            for row in 0..<(n * h) {
                let base = row * w * c
                for x in 0..<w {
                    let a = base + x * c, b = base + (w - 1 - x) * c
                    for k in 0..<c { to[b + k] = from[a + k] }
                }
            }
        }
        return out
    }
}
