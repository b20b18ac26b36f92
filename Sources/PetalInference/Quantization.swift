import Foundation
import PetalCore
import PetalData
import PetalModels
import PetalTraining
import PetalWeights

/// Post-training int8 quantization of a trained model (`petal quantize`): the images to
/// calibrate on, decoded and normalised exactly as inference does, then
/// `QuantizedClassifier.quantize`.
public enum Quantization {
    /// Calibration images used when not told otherwise.
    public static let defaultImageCount = 300

    /// Quantizes the model file or run folder `model`, calibrating on `count` images of
    /// `calibrate` (a folder of class sub-folders or of images), by default the run's
    /// validation split.
    public static func quantize(model: URL, calibrate: URL?, count: Int = defaultImageCount,
                                method: CalibrationMethod = .minmax) throws -> QuantizedClassifier {
        guard count > 0 else {
            throw QuantizationError.invalidOption(option: "--calibration-images", value: "\(count)", reason: "must be at least 1")
        }
        let file = TransferClassifier.modelFile(fileOrRunFolder: model)
        if file != model && !FileManager.default.fileExists(atPath: file.path) {
            throw InferenceError.noModelInRunFolder(path: model.path, file: RunFolder.File.model.rawValue)
        }
        let read = try SafetensorsFile.read(file)
        if QuantizedClassifier.isQuantized(read) { throw QuantizationError.alreadyQuantized(path: file.path) }
        let float = try TransferClassifier.load(from: file)
        let files = try calibrationFiles(model: model, calibrate: calibrate, count: count)
        let runner = try ImageClassifier(network: float.network, classNames: float.classNames, inputSize: float.inputSize,
                                         normalization: float.normalization, architecture: float.architecture, source: file)
        var batches: [Tensor] = []
        for start in stride(from: 0, to: files.count, by: ImageClassifier.batchSize) {
            let chunk = files[start..<min(start + ImageClassifier.batchSize, files.count)]
            batches.append(try runner.batch(try chunk.map { try runner.decode(.file($0)) }[...]))
        }
        return try QuantizedClassifier.quantize(float, calibration: batches, method: method)
    }

    /// `count` images spread evenly over the sorted list of `calibrate`'s images (or the run's
    /// validation split): the same files every time.
    public static func calibrationFiles(model: URL, calibrate: URL?, count: Int) throws -> [URL] {
        let all: [URL]
        let source: String
        if let calibrate {
            source = calibrate.path
            all = try images(in: calibrate)
        } else {
            let run = RunFolder(model)
            guard run.contains(.split) else {
                throw QuantizationError.invalidOption(
                    option: "--calibrate", value: "(none)",
                    reason: "\(model.path) is not a run folder with a validation split: give a folder of images to calibrate on")
            }
            source = run.url(.split).path + " (validation split)"
            all = try DatasetSplit.load(from: run.url(.split)).validation.map(\.url).sorted { $0.path < $1.path }
        }
        guard !all.isEmpty else { throw QuantizationError.noCalibrationImages(source: source) }
        let n = min(count, all.count)
        return (0..<n).map { all[$0 * all.count / n] }
    }

    /// The images of a folder: its class sub-folders' (as training reads them), or the image
    /// files directly in it, sorted by path.
    static func images(in folder: URL) throws -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw QuantizationError.invalidOption(option: "--calibrate", value: folder.path, reason: "no such folder")
        }
        let entries = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil,
                                                                  options: [.skipsHiddenFiles])
        let plain = entries.filter { ImageFolder.imageExtensions.contains($0.pathExtension.lowercased()) }
        if !plain.isEmpty { return plain.sorted { $0.path < $1.path } }
        guard let folder = try? ImageFolder(folder) else { return [] }
        return folder.items.map(\.url).sorted { $0.path < $1.path }
    }
}

extension ImageClassifier {
    /// The int8 model in a model file or run folder, and its file; nil when it holds a float
    /// model (or none: `model(contentsOf:)` then names what is missing).
    public static func quantizedModel(contentsOf url: URL) throws -> (model: QuantizedClassifier, file: URL)? {
        let file = TransferClassifier.modelFile(fileOrRunFolder: url)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        return try QuantizedClassifier.loadIfQuantized(from: file).map { ($0, file) }
    }
}
