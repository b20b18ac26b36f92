import Foundation
import PetalCore

/// Reads Keras HDF5 weight files, matching every weight by name, never by position:
///
/// - weights-only files as `keras.applications` downloads them (Keras 2: root attribute
///   `layer_names`, each layer group listing `weight_names` like `Conv1/kernel:0`);
/// - whole-model files (`model_weights/...`, with `model_config` on the root), including a
///   functional base nested as one layer (`model_weights/mobilenetv2_1.00_160/Conv1/kernel`);
/// - Keras 3 `.weights.h5` files (`layers/<name>/vars/<i>`), named `<layer>/<i>`.
///
/// Every tensor gets a canonical name `<layer>/<weight>` (`Conv1/kernel`, `bn_Conv1/gamma`,
/// `block_1_depthwise/depthwise_kernel`, `dense/kernel`): `:0` suffixes and nesting models are
/// dropped, and Keras 3's depthwise `kernel` is renamed `depthwise_kernel` as Keras 2 named it
/// (found from `model_config`). Kernels keep Keras shapes: Conv2D [kh, kw, in, out],
/// DepthwiseConv2D [kh, kw, in, 1], Dense [in, out].
public struct KerasHDF5Reader {
    public enum Style: String, Sendable {
        case weightsOnly = "weights-only", wholeModel = "whole-model", keras3Weights = "keras3-weights"
    }

    /// One weight: its canonical name, where it is stored, and which sub-model holds it.
    public struct Entry: Sendable, Equatable {
        public let name: String
        /// The weight's name as the file lists it (`block_1_depthwise/kernel`, `Conv1/kernel:0`).
        public let storedName: String
        /// The top-level layer group holding it (the nested model's name for a nested base).
        public let layer: String
        /// The nested model it came from (`mobilenetv2_1.00_160`), nil for a top-level layer.
        public let subModel: String?
        public let hdf5Path: String
        public let shape: [Int]
    }

    public let url: URL
    public let style: Style
    /// Weights in the order the file lists them.
    public let entries: [Entry]
    /// The top-level layer names, in model order.
    public let layerNames: [String]
    /// The model's architecture as Keras JSON (whole-model files only).
    public let modelConfig: String?
    public let kerasVersion: String?
    public let backend: String?
    private let file: HDF5File

    public init(_ url: URL) throws {
        self.url = url
        file = try HDF5File(url)
        kerasVersion = try file.stringAttribute("keras_version")
        backend = try file.stringAttribute("backend")
        modelConfig = try file.stringAttribute("model_config")
        let depthwise = modelConfig.map(Self.depthwiseLayers(in:)) ?? []

        let root: String
        if file.exists("model_weights"), try file.stringsAttribute("layer_names", of: "model_weights") != nil {
            root = "model_weights"
            style = .wholeModel
        } else if try file.stringsAttribute("layer_names") != nil {
            root = "/"
            style = .weightsOnly
        } else if file.exists("layers") {
            style = .keras3Weights
            layerNames = try file.children(of: "layers")
            entries = try Self.keras3Entries(file, group: "layers", model: nil, depth: 0)
            try Self.checkUnique(entries, path: url.path)
            return
        } else {
            throw WeightError.malformed(path: url.path, reason: "HDF5 file without Keras `layer_names` (not a Keras weights file?)")
        }

        layerNames = try file.stringsAttribute("layer_names", of: root) ?? []
        var entries: [Entry] = []
        for layer in layerNames {
            let group = root == "/" ? layer : "\(root)/\(layer)"
            for stored in try file.stringsAttribute("weight_names", of: group) ?? [] {
                let hdf5Path = "\(group)/\(stored)"
                var name = stored.hasSuffix(":0") ? String(stored.dropLast(2)) : stored
                let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                let owner = parts.count > 1 ? parts[parts.count - 2] : layer
                if parts.last == "kernel", depthwise.contains(owner) {
                    name = (parts.dropLast() + ["depthwise_kernel"]).joined(separator: "/")
                }
                // A weight of a nested model is listed relative to it: `Conv1/kernel` in group
                // `mobilenetv2_1.00_160`. A plain layer lists `Conv1/kernel:0` in group `Conv1`.
                let nested = parts.first != layer && parts.count > 1
                guard file.isDataset(hdf5Path) else {
                    throw WeightError.malformed(path: url.path, reason: "weight `\(stored)` of layer `\(layer)` is listed but `\(hdf5Path)` is missing or cannot be opened (corrupt?)")
                }
                entries.append(Entry(name: name, storedName: stored, layer: layer, subModel: nested ? layer : nil,
                                     hdf5Path: hdf5Path, shape: try file.shape(of: hdf5Path)))
            }
        }
        try Self.checkUnique(entries, path: url.path)
        self.entries = entries
    }

    /// Canonical names in file order.
    public var names: [String] { entries.map(\.name) }

    /// The names of the nested models weights came from (empty for a flat model).
    public var subModels: [String] {
        var seen = Set<String>()
        return entries.compactMap(\.subModel).filter { seen.insert($0).inserted }
    }

    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    /// Reads one tensor by canonical name.
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entry(name) else { throw WeightError.missingTensor(name: name, source: url.path) }
        return try file.readTensor(entry.hdf5Path, name: name)
    }

    /// Reads every tensor, keyed by canonical name.
    public func readAll() throws -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for entry in entries { tensors[entry.name] = try file.readTensor(entry.hdf5Path, name: entry.name) }
        return tensors
    }

    /// Layers whose class is DepthwiseConv2D anywhere in a Keras model config (nested models included).
    static func depthwiseLayers(in config: String) -> Set<String> {
        guard let json = try? JSONSerialization.jsonObject(with: Data(config.utf8)) else { return [] }
        var found = Set<String>()
        // The parser bounds nesting itself; the walk is bounded too, whatever parser is used.
        func walk(_ value: Any, depth: Int = 0) {
            guard depth < 1000 else { return }
            if let dict = value as? [String: Any] {
                if dict["class_name"] as? String == "DepthwiseConv2D",
                   let name = (dict["config"] as? [String: Any])?["name"] as? String ?? dict["name"] as? String {
                    found.insert(name)
                }
                for child in dict.values { walk(child, depth: depth + 1) }
            } else if let array = value as? [Any] {
                for child in array { walk(child, depth: depth + 1) }
            }
        }
        walk(json)
        return found
    }

    /// Models nested deeper than this are refused (HDF5 links can even make a group its own child).
    static let maxNesting = 32

    /// Keras 3 `.weights.h5`: `layers/<layer>/vars/<i>`, nested models under `layers/<model>/layers/...`.
    static func keras3Entries(_ file: HDF5File, group: String, model: String?, depth: Int) throws -> [Entry] {
        guard depth < maxNesting else { throw file.bad("models nested more than \(maxNesting) deep at `\(group)`") }
        var entries: [Entry] = []
        for layer in try file.children(of: group) {
            let layerGroup = "\(group)/\(layer)"
            if file.exists("\(layerGroup)/vars") {
                let vars = try file.children(of: "\(layerGroup)/vars").sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
                for v in vars {
                    let path = "\(layerGroup)/vars/\(v)"
                    entries.append(Entry(name: "\(layer)/\(v)", storedName: "vars/\(v)", layer: model ?? layer,
                                         subModel: model, hdf5Path: path, shape: try file.shape(of: path)))
                }
            }
            if file.exists("\(layerGroup)/layers") {
                entries += try keras3Entries(file, group: "\(layerGroup)/layers", model: model ?? layer, depth: depth + 1)
            }
        }
        return entries
    }

    static func checkUnique(_ entries: [Entry], path: String) throws {
        var seen = Set<String>()
        for entry in entries where !seen.insert(entry.name).inserted {
            throw WeightError.duplicateTensor(path: path, name: entry.name)
        }
    }
}
