# %% [markdown]
# # t2_your_model

# %%
print(1)
