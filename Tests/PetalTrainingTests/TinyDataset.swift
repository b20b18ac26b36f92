import Foundation
import PetalCore
import PetalData
import PetalTestSupport
import PetalTraining

/// A tiny two-class image folder made for a test.
enum TinyDataset {
    /// Two visually distinct classes: warm images with a bright disc, cool ones with stripes.
    static func make(perClass: Int = 10) throws -> URL {
        let root = Fixtures.temporaryDirectory("petal-run-data")
        var generator = SplitMix64(seed: 7)
        for (label, name) in ["cool", "warm"].enumerated() {
            let folder = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<perClass {
                var image = RGBImage(width: 48, height: 40)
                let cx = 10 + Int(generator.next() % 28), cy = 10 + Int(generator.next() % 20)
                for y in 0..<40 {
                    for x in 0..<48 {
                        let noise = UInt8(generator.next() % 40)
                        let o = (y * 48 + x) * 3
                        if label == 1 {
                            let inDisc = (x - cx) * (x - cx) + (y - cy) * (y - cy) < 64
                            image.pixels[o] = inDisc ? 250 : 170 + noise
                            image.pixels[o + 1] = inDisc ? 240 : 90 + noise
                            image.pixels[o + 2] = 40 + noise
                        } else {
                            let stripe = (x / 4) % 2 == 0
                            image.pixels[o] = 30 + noise
                            image.pixels[o + 1] = (stripe ? 140 : 80) + noise
                            image.pixels[o + 2] = 180 + noise
                        }
                    }
                }
                try JPEGEncoder.write(image, to: folder.appendingPathComponent("\(name) \(i).jpg"))
            }
        }
        // Files that are not images are ignored and counted.
        try Data("notes".utf8).write(to: root.appendingPathComponent("warm/README.txt"))
        return root
    }

    /// A run of a tiny random MobileNetV2 (alpha 0.35, 32 px, batch 4) on `data`.
    static func tinyRunConfig(_ data: URL) -> TransferLearningConfig {
        var config = TransferLearningConfig(data: data.path)
        config.backbone = "mobilenetv2"
        config.alpha = 0.35
        config.weights = "none"
        config.imageSize = 32
        config.batchSize = 4
        return config
    }
}
