import Foundation
import PetalCore
import PetalData
import PetalModels

/// Small models with random weights at small input sizes, and images made by the tests
/// (for inference, `petal predict` and `petal evaluate`).
public enum TinyModels {
    /// A MobileNetV2 (alpha 0.35) with a new head and random weights, saved as a model file.
    public static func model(in folder: URL, classes: [String] = ["a", "b", "c"], inputSize: Int = 32,
                             architecture: Architecture = .mobileNetV2(alpha: 0.35), seed: UInt64 = 7,
                             edit: (TransferClassifier) -> Void = { _ in }) throws -> URL {
        let url = folder.appendingPathComponent("model.safetensors")
        let model = try TransferClassifier(architecture: architecture, classNames: classes, inputSize: inputSize,
                                           base: .none, seed: seed)
        edit(model)
        try model.save(to: url)
        return url
    }

    /// A picture with structure (gradients, a square, noise) so that classes differ.
    public static func image(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var rng = SplitMix64(seed: seed)
        var image = RGBImage(width: width, height: height)
        let (cx, cy) = (Int(rng.nextUnitFloat() * Float(width)), Int(rng.nextUnitFloat() * Float(height)))
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                let inSquare = abs(x - cx) < width / 4 && abs(y - cy) < height / 4
                image.pixels[i] = UInt8(x * 255 / max(width - 1, 1))
                image.pixels[i + 1] = inSquare ? 250 : UInt8(y * 255 / max(height - 1, 1))
                image.pixels[i + 2] = UInt8(rng.nextUnitFloat() * 255)
            }
        }
        return image
    }

    /// `count` image files in `folder` (JPEG and PNG in turn, of several sizes).
    public static func files(in folder: URL, count: Int, seed: UInt64 = 1) throws -> [URL] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try (0..<count).map { k in
            let image = self.image(width: 40 + 7 * (k % 5), height: 30 + 11 * (k % 3), seed: seed &+ UInt64(k))
            let png = k % 2 == 1
            let url = folder.appendingPathComponent(String(format: "img%03d.%@", k, png ? "png" : "jpg"))
            try (png ? try PNGEncoder.encode(image) : try JPEGEncoder.encode(image, quality: 92)).writeAtomically(to: url)
            return url
        }
    }
}
