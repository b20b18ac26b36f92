import Foundation
import CPNG
import PetalData
import PetalTraining
@testable import PetalEvaluation

/// A made-up run folder with every file a real run leaves: 12 epochs over two phases with
/// learning-rate drops, five classes, 40 test images written as small JPEGs (one as PNG),
/// a few confident mistakes, a dataset summary with skipped files, config and timings.
enum SyntheticRun {
    static let classNames = ["daisy", "dandelion", "rose", "sunflower", "tulip"]
    static let imagesPerClass = 8

    /// Base colour per class, so thumbnails differ visibly.
    static let classColors: [(Double, Double, Double)] = [
        (240, 240, 235), (250, 210, 40), (200, 30, 60), (245, 160, 20), (190, 60, 170),
    ]

    static func make(in folder: URL, includeAll: Bool = true) throws {
        let images = folder.appendingPathComponent("test-images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)

        var records: [PredictionRecord] = []
        var index = 0
        for (c, name) in classNames.enumerated() {
            for i in 0..<imagesPerClass {
                let file: String
                if c == 2 && i == 0 {
                    file = "test-images/\(name)-\(i).png"
                    try writePNG(flower(classIndex: c, variant: i), to: folder.appendingPathComponent(file))
                } else {
                    file = "test-images/\(name)-\(i).jpg"
                    try JPEGEncoder.encode(flower(classIndex: c, variant: i), quality: 90)
                        .write(to: folder.appendingPathComponent(file))
                }
                // Every fifth image is wrong, confidently so for some.
                let wrong = index % 5 == 3
                let predicted = wrong ? (c + 1 + i % 3) % classNames.count : c
                let top: Float = wrong ? 0.55 + Float(index % 4) * 0.1 : 0.6 + Float(i % 4) * 0.1
                var probabilities = [Float](repeating: (1 - top) / Float(classNames.count - 1), count: classNames.count)
                probabilities[predicted] = top
                records.append(PredictionRecord(path: file, trueLabel: c, probabilities: probabilities))
                index += 1
            }
        }
        let run = RunFolder(folder)
        // A finished run's state: what makes the folder a Petal run.
        var state = RunState()
        state.phase = RunState.done
        try run.write(state, to: .state)
        try run.write(PredictionSet(classNames: classNames, predictions: records), to: .predictions)
        try run.write(history(), to: .history)
        guard includeAll else { return }

        let summary = DatasetSummary(
            source: "/data/flowers", classNames: classNames, imagesPerClass: [633, 898, 641, 699, 584],
            splits: .init(train: 2418, validation: 518, test: 519),
            skippedFiles: [.init(path: "rose/broken.jpg", reason: "truncated JPEG data"),
                           .init(path: "tulip/x.gif", reason: "unsupported image format (GIF)")],
            ignoredNonImageCount: 3)
        try run.write(summary, to: .dataset)
        let timings = RunTimings(phases: [
            .init(name: "feature-extraction", seconds: 312.5, imagesPerSecond: 46.4, epochs: 6),
            .init(name: "fine-tuning", seconds: 1205.0, imagesPerSecond: 12.0, epochs: 6),
            .init(name: "evaluation", seconds: 9.8, imagesPerSecond: 53.0),
        ], totalSeconds: 1527.3)
        try run.write(timings, to: .timings)
        let config = """
        {"model": "mobilenet_v2", "image_size": 224, "batch_size": 32, "epochs": 6, "fine_tune_epochs": 6,
         "learning_rate": 0.001, "augmentation": {"flip": true, "rotation": 0.1, "zoom": [0.9, 1.1]},
         "seed": 42, "data": "/data/flowers"}
        """
        try Data(config.utf8).write(to: run.url(.config))
    }

    /// Accuracy rising, loss falling, a jump when fine-tuning starts at epoch 7, and
    /// learning-rate drops before epochs 5 and 11.
    static func history() -> TrainingHistory {
        var epochs: [EpochRecord] = []
        for e in 1...12 {
            let fineTuning = e >= 7
            let t = Double(e)
            let accuracy = fineTuning ? 0.86 + 0.01 * (t - 7) : 0.45 + 0.07 * t - 0.003 * t * t
            let validationAccuracy = accuracy - 0.03 + (e % 2 == 0 ? 0.01 : -0.005)
            let loss = fineTuning ? 0.42 - 0.03 * (t - 7) : 1.5 / (0.6 + 0.4 * t)
            let lr: Double
            switch e {
            case 1...4: lr = 1e-3
            case 5...6: lr = 2e-4
            case 7...10: lr = 1e-5
            default: lr = 2e-6
            }
            epochs.append(EpochRecord(epoch: e, phase: fineTuning ? "fine-tuning" : "feature-extraction",
                                      loss: loss, accuracy: accuracy, validationLoss: loss + 0.08,
                                      validationAccuracy: validationAccuracy, learningRate: lr,
                                      seconds: fineTuning ? 200.8 : 52.1))
        }
        return TrainingHistory(epochs: epochs, fineTuningStartEpoch: 7)
    }

    /// A 160×120 picture: a coloured "flower" disc on a green-to-blue gradient with noise,
    /// so thumbnails have many colours and the crop is visible.
    static func flower(classIndex: Int, variant: Int) -> RGBImage {
        let width = 160, height = 120
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let (r, g, b) = classColors[classIndex]
        var seed = UInt32(classIndex * 97 + variant * 13 + 1)
        let cx = 80.0 + Double(variant % 3 - 1) * 12, cy = 60.0, radius = 30.0 + Double(variant % 4) * 4
        for y in 0..<height {
            for x in 0..<width {
                seed = seed &* 1_664_525 &+ 1_013_904_223
                let noise = Double(seed >> 28) - 8
                let dx = Double(x) - cx, dy = Double(y) - cy
                let distance = (dx * dx + dy * dy).squareRoot()
                var color: (Double, Double, Double)
                if distance < radius * 0.3 {
                    color = (120, 80, 20)  // the centre
                } else if distance < radius {
                    let shade = 1 - 0.35 * distance / radius
                    color = (r * shade, g * shade, b * shade)
                } else {
                    color = (40 + Double(x) * 0.3, 110 + Double(y) * 0.5, 60 + Double(x + y) * 0.4)
                }
                let i = (y * width + x) * 3
                pixels[i] = UInt8(clamping: Int(color.0 + noise))
                pixels[i + 1] = UInt8(clamping: Int(color.1 + noise))
                pixels[i + 2] = UInt8(clamping: Int(color.2 + noise))
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    static func writePNG(_ image: RGBImage, to url: URL) throws {
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        png.width = png_uint_32(image.width)
        png.height = png_uint_32(image.height)
        png.format = png_uint_32(PNG_FORMAT_FLAG_COLOR)
        let ok = image.pixels.withUnsafeBytes {
            png_image_write_to_file(&png, url.path, 0, $0.baseAddress, 0, nil)
        }
        png_image_free(&png)
        if ok == 0 { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
    }
}
