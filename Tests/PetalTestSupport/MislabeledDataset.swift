import Foundation
import PetalCore
import PetalData

/// A generated image folder of visually distinct classes (colour and pattern) in which about
/// one image in ten sits, on purpose, in the wrong class folder: for testing label audits.
public struct MislabeledDataset {
    public let root: URL
    /// Paths relative to the root of the images put under a wrong class.
    public let flipped: Set<String>
    public let imageCount: Int

    public static let classNames = ["blue-stripes", "green-checks", "red-discs", "yellow-rings"]

    /// `perClass` images drawn for each class; every tenth (by a seeded choice) is saved under
    /// the next class's folder.
    public static func make(in root: URL, perClass: Int = 30, seed: UInt64 = 3) throws -> MislabeledDataset {
        var generator = SplitMix64(seed: seed)
        let names = classNames
        for name in names {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        var flipped: Set<String> = []
        var count = 0
        for (label, name) in names.enumerated() {
            var order = Array(0..<perClass)
            generator.shuffle(&order)
            let wrong = Set(order.prefix(max(1, perClass / 10)))
            for i in 0..<perClass {
                let image = draw(label, &generator)
                let folder = wrong.contains(i) ? names[(label + 1) % names.count] : name
                let path = "\(folder)/\(name)-\(i).jpg"
                try JPEGEncoder.write(image, to: root.appendingPathComponent(path))
                if wrong.contains(i) { flipped.insert(path) }
                count += 1
            }
        }
        return MislabeledDataset(root: root, flipped: flipped, imageCount: count)
    }

    /// A 64×64 picture of class `label`: blue vertical stripes, green checks, a red disc or a
    /// yellow ring, at a random phase, position and size, with noise.
    static func draw(_ label: Int, _ g: inout SplitMix64) -> RGBImage {
        let side = 64
        var image = RGBImage(width: side, height: side)
        let period = 6 + g.below(6), cx = 16 + g.below(32), cy = 16 + g.below(32), radius = 10 + g.below(10)
        for y in 0..<side {
            for x in 0..<side {
                let noise = g.below(30)
                let d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy)
                let rgb: (Int, Int, Int)
                switch label {
                case 0: rgb = (x / period) % 2 == 0 ? (20, 60, 200) : (200, 210, 230)
                case 1: rgb = ((x / period) + (y / period)) % 2 == 0 ? (30, 160, 50) : (20, 40, 20)
                case 2: rgb = d2 < radius * radius ? (220, 30, 30) : (235, 225, 215)
                default:
                    let inRing = d2 < radius * radius && d2 > (radius - 5) * (radius - 5)
                    rgb = inRing ? (240, 200, 20) : (60, 50, 70)
                }
                let o = (y * side + x) * 3
                image.pixels[o] = UInt8(min(255, rgb.0 + noise))
                image.pixels[o + 1] = UInt8(min(255, rgb.1 + noise))
                image.pixels[o + 2] = UInt8(min(255, rgb.2 + noise))
            }
        }
        return image
    }
}
