// A model: the JSON graph (models/FORMAT.md) with its weights, validated.
// Loading checks everything a hostile or broken file could get wrong and
// names the file, the node and the field: unknown ops or attributes, dangling
// or duplicate tensor names, cycles, shape mismatches (both shapes shown),
// missing / unused / malformed weights, sizes over the limits. Batch norms
// and relu / relu6 that follow a conv2d or dense layer are folded into it.
//
// A Model is immutable and shared by every engine built from it.
#pragma once

#include <cstdint>
#include <map>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ops/op.h"
#include "quant/plan.h"
#include "core/tensor.h"

namespace bitlane {

inline constexpr int kFormatVersion = 1;

struct Preprocessing {
  std::string color = "gray";  // gray, rgb or bgr: the channel order the model expects
  int64_t height = 0, width = 0;
  float scale = 1.f / 255.f;   // pixel (0..255) * scale, then (x - mean) / std
  std::vector<float> mean, std;
  std::string resize = "bilinear";  // bilinear or nearest
};

struct InputSpec {
  std::string name;
  Shape shape;                  // without the batch axis; -1 = any size
  DType dtype = DType::kF32;
  std::string layout;           // "CHW" for images, "T" for token sequences
  std::optional<Preprocessing> preprocessing;
};

struct Node {
  std::string op, name;
  std::vector<int> inputs, outputs;  // tensor ids
  nlohmann::json attributes;
};

struct LoadOptions {
  // Ignore the weights file and make random weights of the shapes listed in
  // "metadata": {"weight_shapes": {...}} (benchmarking a bare graph).
  bool random_weights = false;
};

class Model {
 public:
  // Loads model.json and the weights file it names (relative to it).
  static std::shared_ptr<const Model> load(const std::string& json_path,
                                           const LoadOptions& options = {});
  // From memory: JSON text and the bytes of the .safetensors file; `origin`
  // names the model in errors.
  static std::shared_ptr<const Model> parse(std::string_view json_text,
                                            std::vector<uint8_t> weights_bytes,
                                            const std::string& origin);

  const std::string& origin() const { return origin_; }
  const std::string& directory() const { return directory_; }
  const std::string& name() const { return name_; }
  const std::string& description() const { return description_; }
  const std::vector<InputSpec>& inputs() const { return inputs_; }
  const std::vector<int>& input_ids() const { return input_ids_; }
  const std::vector<int>& output_ids() const { return output_ids_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<std::string>& vocabulary() const { return vocabulary_; }
  const quant::QuantPlan& plan() const { return plan_; }
  bool has_plan() const { return has_plan_; }
  // Calibration samples named by the JSON ({"file", "tensor"}), if any.
  const nlohmann::json& calibration() const { return calibration_; }

  // Nodes in a topological order, and grouped in levels whose nodes depend
  // only on earlier levels (they may run in parallel).
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<std::vector<int>>& levels() const { return levels_; }
  int tensor_count() const { return static_cast<int>(tensor_names_.size()); }
  const std::string& tensor_name(int id) const { return tensor_names_[static_cast<size_t>(id)]; }
  // Shape of every tensor for a batch of one (dynamic sizes as 1).
  const Shape& tensor_shape(int id) const { return tensor_shapes_[static_cast<size_t>(id)]; }
  DType tensor_dtype(int id) const { return tensor_dtypes_[static_cast<size_t>(id)]; }
  const ops::Weights& weights() const;
  // A hash of everything that decides what the graph computes: its nodes
  // (ops, names, edges, attributes after folding) and its weights (names,
  // types, shapes, values). Reads every weight: for cache keys, not hot paths.
  uint64_t content_hash() const;
  std::string node_where(const Node& n) const { return origin_ + ": node '" + n.name + "'"; }

  // Builds the operator of a node (engines build their own copies).
  std::unique_ptr<ops::Op> build_op(const Node& n) const;

 private:
  class WeightStore;
  void parse_json(const nlohmann::json& j);
  void link_graph(const nlohmann::json& nodes);
  void order_graph();
  void validate_ops();
  void fold_into_producers(const std::function<bool(Node&, size_t, Node&)>& fold);
  void fold_batch_norms();
  void fuse_residuals();
  void fuse_activations();
  void infer_shapes();

  std::string origin_, directory_, name_, description_, weights_file_;
  std::vector<InputSpec> inputs_;
  std::vector<int> input_ids_, output_ids_;
  std::vector<std::string> output_names_;
  std::vector<std::string> labels_, vocabulary_;
  quant::QuantPlan plan_;
  bool has_plan_ = false;
  nlohmann::json calibration_;
  std::vector<Node> nodes_;
  std::vector<std::vector<int>> levels_;
  std::vector<std::string> tensor_names_;
  std::vector<Shape> tensor_shapes_;
  std::vector<DType> tensor_dtypes_;
  std::shared_ptr<WeightStore> weights_;
};

}  // namespace bitlane
