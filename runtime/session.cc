#include "runtime/session.h"

namespace bitlane {

Session::Session(std::shared_ptr<const Engine> engine)
    : engine_(std::move(engine)), runner_(engine_->model(), engine_->ops()) {}

const std::vector<const Tensor*>& Session::run(const std::vector<Tensor>& inputs, const Executor& ex) {
  runner_.run(inputs, ex, engine_->reference_kernels(), observer_);
  outputs_.clear();
  for (int id : engine_->model().output_ids()) outputs_.push_back(&runner_.tensor(id));
  return outputs_;
}

void Session::reset() { runner_.reset_state(); }

}  // namespace bitlane
